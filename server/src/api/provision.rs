//! Creating, changing and deleting trunks, DIDs, queues and agents: `POST` to the
//! collection, `GET`/`PUT`/`DELETE` of `/{id}` under `/trunks`, `/dids`, `/queues` and
//! `/agents`. An entry's JSON is its table in the config file ([`ConfigDoc`]).
//!
//! Every change goes the same way ([`apply`]), one at a time:
//! 1. the edit is made on the config file's text as dcx loaded it (a file changed on
//!    disk since is a 409: dcx does not overwrite hand edits it has not read);
//! 2. the whole new text is loaded with the checks of `dcx check-config` (422 with
//!    every problem, naming the field, when it is not valid) and its hold audio read;
//! 3. the new file is written beside the old one and synced;
//! 4. the session hub takes the agents and queues (it refuses to drop a queue that
//!    holds callers: 409, and the staged file is removed);
//! 5. the new file replaces the old one (a rename: a crash leaves one or the other);
//! 6. the SIP endpoint takes the trunks and DIDs, and the new config is in effect.
//!
//! The embedded demo config has no file: its changes live in memory until the process
//! ends. Nothing else in the file changes: comments, order and the other sections stay
//! as written. A trunk's `password` is never shown: `GET` says `has_password`.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::{Map, Value};

use super::{AdminToken, ApiError, ApiState};
use crate::config::edit::{ConfigDoc, EditError, Section};
use crate::config::{Loaded, Source};

/// The largest entry body taken, bytes.
pub const MAX_ENTRY_BYTES: usize = 64 * 1024;

/// `/{id}` of `section`: `GET`, `PUT`, `DELETE`.
pub(super) fn item(section: Section) -> MethodRouter<Arc<ApiState>> {
    get(move |t: AdminToken, s: State<Arc<ApiState>>, id| async move { read(section, t, s, id) })
        .put(move |t: AdminToken, s: State<Arc<ApiState>>, id, body| put(section, t, s, id, body))
        .delete(move |t: AdminToken, s: State<Arc<ApiState>>, id| delete(section, t, s, id))
}

/// `POST` to `section`'s collection.
pub(super) fn create_route(
    section: Section,
    on: MethodRouter<Arc<ApiState>>,
) -> MethodRouter<Arc<ApiState>> {
    on.post(move |t: AdminToken, s: State<Arc<ApiState>>, body| create(section, t, s, body))
}

/// `GET /api/v1/dids`: every DID as configured.
pub(super) async fn list_dids(
    _: AdminToken,
    State(api): State<Arc<ApiState>>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let doc = ConfigDoc::parse(&api.gateway.loaded().text).map_err(edit_error)?;
    let dids = doc.list(Section::Dids);
    Ok(Json(
        dids.into_iter().map(|d| shown(Section::Dids, d)).collect(),
    ))
}

fn read(
    section: Section,
    _: AdminToken,
    State(api): State<Arc<ApiState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let doc = ConfigDoc::parse(&api.gateway.loaded().text).map_err(edit_error)?;
    let entry = doc
        .get(section, &id)
        .ok_or_else(|| ApiError::NotFound(format!("no {} {id:?}", section.singular())))?;
    Ok(Json(shown(section, entry)))
}

async fn create(
    section: Section,
    AdminToken(admin): AdminToken,
    State(api): State<Arc<ApiState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let entry = entry(body)?;
    let id = section.id_of_json(&entry).unwrap_or_default();
    let stored = apply(&api, |doc| {
        doc.create(section, &entry)?;
        Ok(doc.get(section, &id))
    })
    .await?;
    tracing::info!(admin = %admin.user, %id, "{} created through the API", section.singular());
    Ok((
        StatusCode::CREATED,
        Json(shown(section, stored.unwrap_or(entry))),
    ))
}

async fn put(
    section: Section,
    AdminToken(admin): AdminToken,
    State(api): State<Arc<ApiState>>,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut entry = entry(body)?;
    section.set_id(&mut entry, &id).map_err(edit_error)?;
    let stored = apply(&api, |doc| {
        doc.replace(section, &id, &entry)?;
        Ok(doc.get(section, &id))
    })
    .await?;
    tracing::info!(admin = %admin.user, %id, "{} changed through the API", section.singular());
    Ok(Json(shown(section, stored.unwrap_or(entry))))
}

async fn delete(
    section: Section,
    AdminToken(admin): AdminToken,
    State(api): State<Arc<ApiState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    apply(&api, |doc| doc.delete(section, &id)).await?;
    tracing::info!(admin = %admin.user, %id, "{} deleted through the API", section.singular());
    Ok(StatusCode::NO_CONTENT)
}

/// The body as an entry: a JSON object.
fn entry(body: Result<Bytes, BytesRejection>) -> Result<Map<String, Value>, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!("an entry is at most {MAX_ENTRY_BYTES} bytes"))
        } else {
            ApiError::BadRequest(e.body_text())
        }
    })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(entry)) => Ok(entry),
        Ok(other) => Err(ApiError::BadRequest(format!(
            "the body must be a JSON object, not {}",
            kind(&other)
        ))),
        Err(e) => Err(ApiError::BadRequest(format!("the body is not JSON: {e}"))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// An entry as the API shows it: a trunk's password replaced by `has_password`.
fn shown(section: Section, mut entry: Map<String, Value>) -> Value {
    if section == Section::Trunks {
        let has = entry.remove("password").is_some();
        entry.insert("has_password".into(), Value::Bool(has));
    }
    Value::Object(entry)
}

fn edit_error(e: EditError) -> ApiError {
    match e {
        EditError::NotFound(m) => ApiError::NotFound(m),
        EditError::Exists(m) => ApiError::Conflict(m),
        EditError::Body(m) => ApiError::BadRequest(m),
        e @ EditError::Text(_) => ApiError::Internal(e.to_string()),
    }
}

/// Makes `edit` on the config, checks, persists and applies it (the module's steps);
/// on any error nothing changed.
async fn apply<T>(
    api: &ApiState,
    edit: impl FnOnce(&mut ConfigDoc) -> Result<T, EditError>,
) -> Result<T, ApiError> {
    let _one_at_a_time = api.edits.lock().await;
    let current = api.gateway.loaded();
    if let Source::File(path) = &current.source {
        let disk = read_file(path.clone()).await?;
        if disk != current.text {
            return Err(ApiError::Conflict(format!(
                "{} changed on disk since dcx loaded it: restart dcx to load those edits, \
                 then make this change again (dcx does not overwrite edits it has not read)",
                path.display()
            )));
        }
    }
    let mut doc = ConfigDoc::parse(&current.text).map_err(edit_error)?;
    let out = edit(&mut doc).map_err(edit_error)?;
    let text = doc.text();
    if text == current.text {
        return Ok(out);
    }
    let source = current.source.clone();
    let (loaded, audio) = blocking(move || {
        let loaded = crate::config::parse(&text, source)?;
        let audio = loaded.hold_audio()?;
        Ok((Arc::new(loaded), audio))
    })
    .await?
    .map_err(ApiError::ConfigInvalid)?;
    let staged = match &loaded.source {
        Source::File(path) => Some(Staged::write(path.clone(), loaded.text.clone()).await?),
        Source::Embedded => None,
    };
    if let Some(hub) = &api.hub {
        let refused = match hub.reconfigure(loaded.clone(), audio).await {
            Ok(Ok(())) => None,
            Ok(Err(why)) => Some(ApiError::Conflict(why)),
            Err(e) => Some(ApiError::Unavailable(e.to_string())),
        };
        if let Some(e) = refused {
            if let Some(s) = staged {
                s.discard().await;
            }
            return Err(e);
        }
    }
    if let Some(s) = staged {
        if let Err(e) = s.commit().await {
            undo_hub(api, &current).await;
            return Err(e);
        }
    }
    if let Some(sip) = api.gateway.sip_commands() {
        let p = crate::sip::provision::SipProvision::from_config(&loaded.config);
        if sip
            .send(crate::sip::udp::SipCommand::Reconfigure(Box::new(p)))
            .await
            .is_err()
        {
            tracing::warn!("the SIP endpoint has stopped: the trunk and DID change is not applied");
        }
    }
    api.gateway.set_loaded(loaded);
    Ok(out)
}

/// Puts the hub back on `config` after a change it took could not be persisted.
async fn undo_hub(api: &ApiState, config: &Arc<Loaded>) {
    let Some(hub) = &api.hub else { return };
    let c = config.clone();
    let audio = blocking(move || c.hold_audio().unwrap_or_default())
        .await
        .unwrap_or_default();
    if let Ok(Err(why)) = hub.reconfigure(config.clone(), audio).await {
        tracing::error!("the contact center could not go back to the config on disk: {why}");
    }
}

async fn read_file(path: PathBuf) -> Result<String, ApiError> {
    blocking(move || {
        std::fs::read_to_string(&path)
            .map_err(|e| ApiError::Internal(format!("cannot read {}: {e}", path.display())))
    })
    .await?
}

/// Runs file work and config checks off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::Internal(format!("a config task failed: {e}")))
}

/// The new config file, written and synced beside the one it replaces.
struct Staged {
    path: PathBuf,
    staged: PathBuf,
}

impl Staged {
    async fn write(path: PathBuf, text: String) -> Result<Self, ApiError> {
        let staged = staged_path(&path);
        let s = Self { path, staged };
        let (path, staged) = (s.path.clone(), s.staged.clone());
        blocking(move || -> std::io::Result<()> {
            use std::io::Write;
            let mut f = std::fs::File::create(&staged)?;
            f.write_all(text.as_bytes())?;
            f.sync_all()?;
            // The same permissions: a config with trunk passwords may be 0600.
            std::fs::set_permissions(&staged, std::fs::metadata(&path)?.permissions())
        })
        .await?
        .map_err(|e| ApiError::Internal(format!("cannot write {}: {e}", s.staged.display())))?;
        Ok(s)
    }

    /// Replaces the config file with the staged one and syncs the directory.
    async fn commit(self) -> Result<(), ApiError> {
        let Self { path, staged } = self;
        blocking(move || {
            std::fs::rename(&staged, &path)
                .and_then(|()| match path.parent() {
                    Some(dir) if !dir.as_os_str().is_empty() => {
                        std::fs::File::open(dir)?.sync_all()
                    }
                    _ => Ok(()),
                })
                .map_err(|e| {
                    let _ = std::fs::remove_file(&staged);
                    ApiError::Internal(format!("cannot replace {}: {e}", path.display()))
                })
        })
        .await?
    }

    async fn discard(self) {
        let staged = self.staged;
        let _ = blocking(move || std::fs::remove_file(staged)).await;
    }
}

/// `dcx.toml` is staged as `.dcx.toml.dcx-edit` in the same directory (a rename does
/// not cross file systems).
fn staged_path(path: &FsPath) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "config".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.dcx-edit"))
}
