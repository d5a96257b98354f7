//! Sharding the SFU across cores (`-- shards [ROOMS] [ROUNDS]`): the same peers on one
//! media loop, then split over two loops (two shards, each its own `Sfu`, as the
//! gateway runs them with `[media] webrtc_shards = 2`) fed at the same time on two
//! threads. Each side is the replay of what its browsers sent at their own phases (the
//! SFU alone; the clients made the traffic beforehand), timed by the wall clock from
//! the first datagram fed to the last: packets per second of the whole box, and two
//! loops over one. The loops share nothing, so what one core adds is what the machine
//! lets it: on a box of two cores whose other work (the OS, other tenants) runs on
//! the same two, the ratio says how much of a second core a second loop gets.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use dcx_media::sfu::Sfu;

use super::{median, Bench, Datagram, FRAMES_CROWDED};

/// A bench of `2 * rooms` peers on shard `shard`, paired and warmed up, with its
/// replay recorded and not yet fed.
fn prepared(rooms: usize, shard: u16) -> (Bench<Sfu>, Vec<Datagram>) {
    let mut b = Bench::<Sfu>::on_shard(2 * rooms, shard);
    b.pair_up();
    b.talk(50);
    let datagrams = b.record(FRAMES_CROWDED, false);
    (b, datagrams)
}

/// Feeds the replay, checks that every frame was forwarded, and returns the wall time.
fn fed(b: &mut Bench<Sfu>, datagrams: &[Datagram], rooms: usize) -> Duration {
    let before = b.frames_forwarded();
    let t = Instant::now();
    b.feed(datagrams);
    let wall = t.elapsed();
    assert!(
        b.frames_forwarded() - before >= FRAMES_CROWDED * 2 * rooms as u64,
        "every frame forwarded"
    );
    wall
}

/// Packets per second of `rooms` rooms of two on one loop, then on two loops of half
/// as many rooms each, fed at once: (one loop, two loops).
fn round(rooms: usize) -> (f64, f64) {
    let (mut one, datagrams) = prepared(rooms, 0);
    let wall = fed(&mut one, &datagrams, rooms);
    let single = datagrams.len() as f64 / wall.as_secs_f64();
    drop(one);

    let half = rooms / 2;
    let mut halves = [prepared(half, 0), prepared(half, 1)];
    let start = Barrier::new(2);
    let walls: Vec<Duration> = std::thread::scope(|scope| {
        let running: Vec<_> = halves
            .iter_mut()
            .map(|(b, datagrams)| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    fed(b, datagrams, half)
                })
            })
            .collect();
        running.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let packets: usize = halves.iter().map(|(_, d)| d.len()).sum();
    let slowest = walls.into_iter().max().unwrap();
    (single, packets as f64 / slowest.as_secs_f64())
}

/// `rounds` rounds of [`round`] with `2 * rooms` peers in all; medians and the ratio.
pub fn shards(rooms: usize, rounds: usize) {
    println!();
    println!(
        "{} peers in {rooms} rooms of two, the replay alone at own phases: one media loop, \
         then two loops of {} peers each on two threads at once; packets/s of the box",
        2 * rooms,
        rooms
    );
    println!(
        "{:<10} {:>14} {:>14} {:>8}",
        "round", "one loop", "two loops", "ratio"
    );
    let mut rows = Vec::new();
    for n in 1..=rounds {
        let (one, two) = round(rooms);
        println!("{n:<10} {one:>14.0} {two:>14.0} {:>8.2}", two / one);
        rows.push((one, two));
    }
    let one = median(rows.iter().map(|r| r.0).collect());
    let two = median(rows.iter().map(|r| r.1).collect());
    let ratio = median(rows.iter().map(|r| r.1 / r.0).collect());
    println!("{:<10} {one:>14.0} {two:>14.0} {ratio:>8.2}", "median");
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!("two loops / one loop (median of the rounds' ratios): {ratio:.2}, on {cores} cores");
}
