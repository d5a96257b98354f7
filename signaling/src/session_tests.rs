//! Tests of [`super`] in virtual time: resume, takeover, expiry, close.

use super::*;
use crate::token::Role;

const GRACE: Duration = Duration::from_secs(30);

fn claims(user: &str) -> Claims {
    Claims {
        account: "demo".into(),
        user: user.into(),
        role: Role::Agent,
        exp: u64::MAX,
    }
}

/// A deterministic source: 1, 2, 3, ...
fn counter() -> impl FnMut() -> u64 {
    let mut n = 0;
    move || {
        n += 1;
        n
    }
}

struct Fixture {
    t0: Instant,
    sessions: Sessions,
    rng: Box<dyn FnMut() -> u64>,
}

impl Fixture {
    fn new() -> Self {
        Self {
            t0: Instant::now(),
            sessions: Sessions::new(GRACE),
            rng: Box::new(counter()),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn hello(
        &mut self,
        secs: u64,
        user: &str,
        resume: Option<&str>,
    ) -> Result<Welcome, ProtocolError> {
        let now = self.at(secs);
        self.sessions
            .authenticate(now, claims(user), resume, &mut self.rng)
    }
}

#[test]
fn fresh_sessions_get_distinct_ids_and_tokens() {
    let mut f = Fixture::new();
    let a = f.hello(0, "alice", None).unwrap();
    let b = f.hello(0, "alice", None).unwrap();
    assert_ne!(a.session_id, b.session_id);
    assert_ne!(a.resume_token, b.resume_token);
    assert_eq!(a.resume_token.len(), 32);
    assert!(a.resume_token.bytes().all(|c| c.is_ascii_hexdigit()));
    assert!(!a.resumed && !a.took_over);
    assert_eq!(f.sessions.len(), 2);
    assert!(f.sessions.is_attached(a.session_id));
    assert_eq!(f.sessions.poll_timeout(), None);
}

#[test]
fn welcome_message_carries_the_session() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    let ServerMessage::Welcome {
        session_id,
        resume_token,
        user,
        account,
        role,
        resume_grace_s,
        resumed_calls,
        v,
    } = w.to_server_message(vec!["c1".into()])
    else {
        panic!("not a welcome");
    };
    assert_eq!(v, 1);
    assert_eq!(session_id, w.session_id.to_string());
    assert!(session_id.starts_with("s-") && session_id.len() == 18);
    assert_eq!(resume_token, w.resume_token);
    assert_eq!(
        (user.as_str(), account.as_str(), role),
        ("alice", "demo", Role::Agent)
    );
    assert_eq!(resume_grace_s, 30);
    assert_eq!(resumed_calls, ["c1"]);
}

#[test]
fn resume_within_grace_reattaches_and_rotates_the_token() {
    let mut f = Fixture::new();
    let first = f.hello(0, "alice", None).unwrap();
    assert!(f.sessions.detach(f.at(10), first.attachment));
    assert!(!f.sessions.is_attached(first.session_id));
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(40)));

    let second = f.hello(39, "alice", Some(&first.resume_token)).unwrap();
    assert_eq!(second.session_id, first.session_id);
    assert_ne!(second.resume_token, first.resume_token);
    assert!(second.resumed && !second.took_over);
    assert!(f.sessions.is_attached(first.session_id));
    assert_eq!(
        f.sessions.poll_timeout(),
        None,
        "no deadline once reattached"
    );

    // The old token is spent.
    let err = f.hello(39, "alice", Some(&first.resume_token)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ResumeFailed);
    assert!(err.code.closes_connection());
}

#[test]
fn resume_of_an_attached_session_takes_it_over() {
    let mut f = Fixture::new();
    let old = f.hello(0, "alice", None).unwrap();
    let new = f.hello(5, "alice", Some(&old.resume_token)).unwrap();
    assert!(new.resumed && new.took_over);
    assert_eq!(new.session_id, old.session_id);
    // The server closes the old socket; its late detach must not strand the new one.
    assert!(!f.sessions.detach(f.at(6), old.attachment));
    assert!(f.sessions.is_attached(new.session_id));
    assert_eq!(f.sessions.poll_timeout(), None);
    // The new socket's detach works.
    assert!(f.sessions.detach(f.at(7), new.attachment));
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(37)));
}

#[test]
fn detach_twice_keeps_the_first_deadline() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    assert!(f.sessions.detach(f.at(1), w.attachment));
    assert!(!f.sessions.detach(f.at(20), w.attachment));
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(31)));
}

#[test]
fn grace_expiry_is_strict_and_reported_once() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    f.sessions.detach(f.at(0), w.attachment);

    // At the deadline the session can no longer be resumed, even before handle_timeout.
    let err = f.hello(30, "alice", Some(&w.resume_token)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ResumeFailed);

    f.sessions.handle_timeout(f.at(29));
    assert_eq!(f.sessions.poll_expired(), None);
    f.sessions.handle_timeout(f.at(30));
    assert_eq!(f.sessions.poll_expired(), Some(w.session_id));
    assert_eq!(f.sessions.poll_expired(), None);
    assert_eq!(f.sessions.poll_timeout(), None);
    assert!(f.sessions.claims(w.session_id).is_none());
    assert!(f.sessions.is_empty());
}

#[test]
fn deadlines_expire_in_order() {
    let mut f = Fixture::new();
    let a = f.hello(0, "a", None).unwrap();
    let b = f.hello(0, "b", None).unwrap();
    let c = f.hello(0, "c", None).unwrap();
    f.sessions.detach(f.at(20), b.attachment);
    f.sessions.detach(f.at(10), a.attachment);
    f.sessions.detach(f.at(30), c.attachment);
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(40)));
    f.sessions.handle_timeout(f.at(55));
    assert_eq!(f.sessions.poll_expired(), Some(a.session_id));
    assert_eq!(f.sessions.poll_expired(), Some(b.session_id));
    assert_eq!(f.sessions.poll_expired(), None);
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(60)));
    assert_eq!(f.sessions.len(), 1);
}

#[test]
fn another_user_cannot_resume_and_does_not_disturb_the_session() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    f.sessions.detach(f.at(0), w.attachment);
    let err = f.hello(1, "mallory", Some(&w.resume_token)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ResumeFailed);
    // Same user name in another account is another user.
    let mut other_account = claims("alice");
    other_account.account = "other".into();
    let now = f.at(1);
    let err = f
        .sessions
        .authenticate(now, other_account, Some(&w.resume_token), &mut f.rng)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::ResumeFailed);
    // The owner still can, and the deadline was untouched until then.
    assert_eq!(f.sessions.poll_timeout(), Some(f.at(30)));
    assert!(f.hello(2, "alice", Some(&w.resume_token)).is_ok());
}

#[test]
fn unknown_resume_token_fails() {
    let mut f = Fixture::new();
    for token in ["", "00000000000000000000000000000000", "x"] {
        let err = f.hello(0, "alice", Some(token)).unwrap_err();
        assert_eq!(err.code, ErrorCode::ResumeFailed, "{token:?}");
    }
    assert!(f.sessions.is_empty());
}

#[test]
fn resume_takes_the_new_tokens_claims() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    let mut promoted = claims("alice");
    promoted.role = Role::Supervisor;
    let now = f.at(1);
    let again = f
        .sessions
        .authenticate(now, promoted, Some(&w.resume_token), &mut f.rng)
        .unwrap();
    assert_eq!(again.claims.role, Role::Supervisor);
    assert_eq!(
        f.sessions.claims(w.session_id).map(|c| c.role),
        Some(Role::Supervisor)
    );
}

#[test]
fn close_ends_at_once_without_an_expiry_report() {
    let mut f = Fixture::new();
    let w = f.hello(0, "alice", None).unwrap();
    f.sessions.detach(f.at(0), w.attachment);
    assert!(f.sessions.close(w.session_id));
    assert!(!f.sessions.close(w.session_id));
    assert_eq!(f.sessions.poll_timeout(), None);
    f.sessions.handle_timeout(f.at(100));
    assert_eq!(f.sessions.poll_expired(), None);
    let err = f.hello(1, "alice", Some(&w.resume_token)).unwrap_err();
    assert_eq!(err.code, ErrorCode::ResumeFailed);
}

#[test]
fn a_repeating_random_source_is_an_internal_error_not_a_duplicate() {
    let mut sessions = Sessions::new(GRACE);
    let now = Instant::now();
    let mut stuck = || 7u64;
    assert!(sessions
        .authenticate(now, claims("a"), None, &mut stuck)
        .is_ok());
    let err = sessions
        .authenticate(now, claims("b"), None, &mut stuck)
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Internal);
    assert_eq!(sessions.len(), 1);
}
