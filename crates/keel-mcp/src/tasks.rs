//! The tasks extension (`io.modelcontextprotocol/tasks`, SEP-2663): a long tool call becomes a task
//! that the client polls with `tasks/get`, answers with `tasks/update` and stops with
//! `tasks/cancel`.
//!
//! Every task is a durable object of its own (namespace `mcp-task`, named by the task ID), whose
//! one row holds the task as the client sees it. A task is written before its `CreateTaskResult`
//! is sent and at every change of status, so its status and result survive a restart of the
//! server. The running tool call itself lives in this process: a task found unfinished in storage
//! whose runner is another process (the server restarted) is reported `failed`, never left
//! `working` forever. When the task's TTL is over, its object's alarm deletes it.
//!
//! A call to a tool that supports tasks, from a client that declared the extension, starts running
//! at once; if it finishes within [`SYNC_WINDOW`] its result is answered directly (the spec's
//! immediate-result shortcut), else the call becomes a task. Input the tool asks for through
//! [`ToolContext::elicit`](crate::ToolContext::elicit) or `sample` turns the task `input_required`
//! until `tasks/update` brings the answer.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use keel_objects::{
    HandlerError, Migration, Namespace, Object, ObjectError, ObjectHost, ObjectKind, SqlValue,
};
use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CreateTaskResult, GetTaskResult, InputResponses};
use serde_json::{Map, Value, json};
use tokio::sync::{Notify, oneshot};
use tokio_util::sync::CancellationToken;

/// Namespace of the task objects.
pub const TASK_NAMESPACE: &str = "mcp-task";
/// How long a task-supporting call may run before it becomes a task.
pub const SYNC_WINDOW: Duration = Duration::from_millis(200);
/// How long a task is kept after it was created, unless the client asked for another TTL.
pub const DEFAULT_TTL: Duration = Duration::from_secs(3600);
/// Longest TTL a client may ask for.
pub const MAX_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Suggested polling interval.
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// Whether a tool may run as a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TaskSupport {
    /// Always answered directly.
    #[default]
    Forbidden,
    /// A task when the client declared the extension and the call takes longer than [`SYNC_WINDOW`].
    Optional,
    /// Like `Optional`, and a client without the extension gets error -32021.
    Required,
}

/// The kind of the task objects.
struct TaskKind {
    host: Weak<ObjectHost>,
}

impl ObjectKind for TaskKind {
    fn namespace(&self) -> Namespace {
        Namespace::new(TASK_NAMESPACE).unwrap_or_else(|_| unreachable!("a valid constant"))
    }

    fn migrations(&self) -> Vec<Migration> {
        vec![
            Migration::sql(
                1,
                "CREATE TABLE _keel_task (one INTEGER PRIMARY KEY CHECK (one = 1), task TEXT NOT NULL, runner TEXT NOT NULL)",
            ),
            // Who may see and steer the task: the MCP session that started it ('' for none).
            Migration::sql(
                2,
                "ALTER TABLE _keel_task ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
            ),
        ]
    }

    /// The TTL is over: the task goes, with its object.
    fn on_alarm<'a>(&'a self, object: &'a Object) -> BoxFuture<'a, Result<(), HandlerError>> {
        Box::pin(async move {
            if self.host.strong_count() > 0 {
                object.delete_after_alarm();
            }
            Ok(())
        })
    }
}

/// Registers the task kind with `host`.
pub(crate) fn register_kind(host: &Arc<ObjectHost>) -> Result<(), ObjectError> {
    host.register(TaskKind {
        host: Arc::downgrade(host),
    })
}

fn now() -> String {
    rmcp::task_manager::current_timestamp()
}

fn unknown_task(id: &str) -> ErrorData {
    ErrorData::invalid_params(
        format!(
            "unknown task {id:?}: no such task, or it expired (tasks are kept for their ttlMs)"
        ),
        Some(json!({ "taskId": id })),
    )
}

fn storage_error(e: ObjectError) -> ErrorData {
    ErrorData::internal_error(format!("task storage failed: {e}"), None)
}

fn error_json(error: &ErrorData) -> Value {
    serde_json::to_value(error).unwrap_or_else(|_| json!({"code": -32603, "message": "error"}))
}

/// How a task's run ended.
pub(crate) enum Outcome {
    Done(Result<CallToolResponse, ErrorData>),
    Cancelled,
    Expired,
}

/// A task of this process, from the moment its call starts (before it is known to be a task).
pub(crate) struct TaskCell {
    id: String,
    state: Mutex<CellState>,
    /// Serializes writes of the task row, so the last write carries the latest state.
    persist: tokio::sync::Mutex<()>,
    /// Wakes the call's handler when the tool asks for input before it became a task.
    escalate: Notify,
    cancel: CancellationToken,
    /// Set when the server stops the task at shutdown (it ends `failed`, not `cancelled`).
    stopped: std::sync::atomic::AtomicBool,
    host: Arc<ObjectHost>,
    runner: Arc<str>,
    /// The session that started it ('' on a stateless request): only it reaches the task.
    owner: String,
}

struct CellState {
    created: bool,
    /// The task as `tasks/get` shows it, without `inputRequests` (derived from `pending`).
    task: Map<String, Value>,
    pending: BTreeMap<String, (Value, oneshot::Sender<Value>)>,
    next_input: u64,
}

impl TaskCell {
    fn snapshot(state: &CellState) -> Map<String, Value> {
        let mut task = state.task.clone();
        let terminal = matches!(
            task.get("status").and_then(Value::as_str),
            Some("completed" | "failed" | "cancelled")
        );
        if !terminal {
            if state.pending.is_empty() {
                task.insert("status".into(), "working".into());
            } else {
                task.insert("status".into(), "input_required".into());
                let requests: Map<String, Value> = state
                    .pending
                    .iter()
                    .map(|(k, (request, _))| (k.clone(), request.clone()))
                    .collect();
                task.insert("inputRequests".into(), requests.into());
            }
        }
        task
    }

    /// Writes the task as it is now; durable when it returns.
    async fn persist(&self) -> Result<(), ObjectError> {
        let _order = self.persist.lock().await;
        let json = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.task.insert("lastUpdatedAt".into(), now().into());
            Value::Object(Self::snapshot(&state)).to_string()
        };
        let object = task_object(&self.host, &self.id).await?;
        write_task(&object, &json, &self.runner, &self.owner).await
    }

    /// Asks the client for input (`method` and `params` of a server-to-client request) through the
    /// task and waits for the answer `tasks/update` brings.
    /// The task's cancellation (`tasks/cancel`, TTL, shutdown).
    pub(crate) fn cancellation(&self) -> &CancellationToken {
        &self.cancel
    }

    pub(crate) async fn request_input(
        &self,
        method: &str,
        params: Value,
    ) -> Result<Value, ErrorData> {
        let (tx, rx) = oneshot::channel();
        let created = {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.next_input += 1;
            let key = format!("input-{}", state.next_input);
            state
                .pending
                .insert(key, (json!({"method": method, "params": params}), tx));
            state.created
        };
        if created {
            self.persist().await.map_err(storage_error)?;
        } else {
            self.escalate.notify_one();
        }
        // `tasks/update` stores the task without this request before it hands over the answer.
        rx.await
            .map_err(|_| ErrorData::internal_error("the task ended before its input arrived", None))
    }

    /// Records how the run ended.
    async fn finish(&self, outcome: Outcome) -> Result<(), ObjectError> {
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.pending.clear();
            let task = &mut state.task;
            let failed = |task: &mut Map<String, Value>, error: Value| {
                task.insert("status".into(), "failed".into());
                task.insert("error".into(), error);
            };
            match outcome {
                Outcome::Done(Ok(CallToolResponse::Complete(result))) => {
                    let mut result = serde_json::to_value(&result).unwrap_or(Value::Null);
                    if let Value::Object(map) = &mut result {
                        map.remove("resultType");
                    }
                    task.insert("status".into(), "completed".into());
                    task.insert("result".into(), result);
                }
                Outcome::Done(Ok(_)) => failed(
                    task,
                    json!({"code": -32603, "message": "the tool answered a task with an input-required result; inside a task, tools ask for input with ToolContext::elicit or sample"}),
                ),
                Outcome::Done(Err(error)) => failed(task, error_json(&error)),
                Outcome::Cancelled if self.stopped.load(std::sync::atomic::Ordering::SeqCst) => {
                    failed(
                        task,
                        json!({"code": -32603, "message": "the server shut down while this task was running; it did not finish (call the tool again)"}),
                    )
                }
                Outcome::Cancelled => {
                    task.insert("status".into(), "cancelled".into());
                }
                Outcome::Expired => failed(
                    task,
                    json!({"code": -32603, "message": "the task ran past its ttlMs and was stopped"}),
                ),
            }
        }
        self.persist().await
    }
}

async fn task_object(host: &ObjectHost, id: &str) -> Result<Object, ObjectError> {
    let ns = Namespace::new(TASK_NAMESPACE)?;
    host.get_named(&ns, id).await
}

/// Writes the task row; `owner` only when the row is new (it never changes).
async fn write_task(
    object: &Object,
    json: &str,
    runner: &str,
    owner: &str,
) -> Result<(), ObjectError> {
    object
        .storage()
        .sql(
            "INSERT INTO _keel_task (one, task, runner, owner) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (one) DO UPDATE SET task = excluded.task, runner = excluded.runner",
            vec![
                SqlValue::from(json),
                SqlValue::from(runner),
                SqlValue::from(owner),
            ],
        )
        .await?;
    Ok(())
}

/// The stored task, its runner and its owner.
async fn read_task(
    object: &Object,
) -> Result<Option<(Map<String, Value>, String, String)>, ErrorData> {
    let rows = object
        .storage()
        .sql("SELECT task, runner, owner FROM _keel_task", vec![])
        .await
        .map_err(storage_error)?
        .rows;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    match (row.first(), row.get(1), row.get(2)) {
        (Some(SqlValue::Text(task)), Some(SqlValue::Text(runner)), Some(SqlValue::Text(owner))) => {
            match serde_json::from_str(task) {
                Ok(Value::Object(task)) => Ok(Some((task, runner.clone(), owner.clone()))),
                _ => Err(ErrorData::internal_error(
                    "a stored task is unreadable",
                    None,
                )),
            }
        }
        _ => Err(ErrorData::internal_error(
            "a stored task is unreadable",
            None,
        )),
    }
}

fn is_terminal(task: &Map<String, Value>) -> bool {
    matches!(
        task.get("status").and_then(Value::as_str),
        Some("completed" | "failed" | "cancelled")
    )
}

/// This process's tasks: the ones running here, and access to every stored one.
pub(crate) struct TaskRuntime {
    host: Arc<ObjectHost>,
    /// Identifies this process as the runner of the tasks it starts.
    runner: Arc<str>,
    running: Mutex<HashMap<String, Arc<TaskCell>>>,
    pub(crate) sync_window: Duration,
}

impl std::fmt::Debug for TaskRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskRuntime")
            .field("running", &self.running())
            .finish()
    }
}

impl TaskRuntime {
    pub(crate) fn new(host: Arc<ObjectHost>) -> Self {
        Self {
            host,
            runner: Arc::from(keel_objects::ObjectId::unique().to_hex()),
            running: Mutex::default(),
            sync_window: SYNC_WINDOW,
        }
    }

    /// A cell for a call that may become a task; `ttl` as the client asked (legacy `task.ttl`).
    pub(crate) fn cell(&self, tool: &str, ttl: Option<Duration>, owner: &str) -> Arc<TaskCell> {
        let ttl = ttl
            .unwrap_or(DEFAULT_TTL)
            .min(MAX_TTL)
            .max(Duration::from_secs(1));
        let created_at = now();
        let task = json!({
            "taskId": keel_objects::ObjectId::unique().to_hex(),
            "status": "working",
            "statusMessage": format!("running {tool}"),
            "createdAt": created_at,
            "lastUpdatedAt": created_at,
            "ttlMs": ttl.as_millis() as u64,
            "pollIntervalMs": POLL_INTERVAL.as_millis() as u64,
        });
        let Value::Object(task) = task else {
            unreachable!("a JSON object literal")
        };
        Arc::new(TaskCell {
            id: task["taskId"].as_str().unwrap_or_default().to_string(),
            state: Mutex::new(CellState {
                created: false,
                task,
                pending: BTreeMap::new(),
                next_input: 0,
            }),
            persist: tokio::sync::Mutex::new(()),
            escalate: Notify::new(),
            cancel: CancellationToken::new(),
            stopped: std::sync::atomic::AtomicBool::new(false),
            host: Arc::clone(&self.host),
            runner: Arc::clone(&self.runner),
            owner: owner.to_string(),
        })
    }

    /// Runs `call` for `cell`: answers directly if it ends within the sync window (and asks for no
    /// input), else stores the task durably and answers with its `CreateTaskResult`.
    pub(crate) async fn run(
        self: &Arc<Self>,
        cell: Arc<TaskCell>,
        call: BoxFuture<'static, Result<CallToolResponse, ErrorData>>,
    ) -> Result<CallToolResponse, ErrorData> {
        let ttl = {
            let state = cell.state.lock().unwrap_or_else(|p| p.into_inner());
            Duration::from_millis(state.task["ttlMs"].as_u64().unwrap_or(0))
        };
        let (done_tx, mut done_rx) = oneshot::channel();
        let cancel = cell.cancel.clone();
        tokio::spawn(async move {
            let outcome = tokio::select! {
                result = call => Outcome::Done(result),
                () = cancel.cancelled() => Outcome::Cancelled,
                () = tokio::time::sleep(ttl) => Outcome::Expired,
            };
            let _ = done_tx.send(outcome);
        });
        tokio::select! {
            outcome = &mut done_rx => match outcome {
                Ok(Outcome::Done(result)) => return result,
                _ => return Err(ErrorData::internal_error("the tool call stopped", None)),
            },
            () = tokio::time::sleep(self.sync_window) => {}
            () = cell.escalate.notified() => {}
        }
        // It becomes a task: durable before the client learns its ID.
        cell.state.lock().unwrap_or_else(|p| p.into_inner()).created = true;
        if let Err(e) = cell.persist().await {
            cell.cancel.cancel();
            return Err(storage_error(e));
        }
        let object = task_object(&self.host, &cell.id)
            .await
            .map_err(storage_error)?;
        let expires = SystemTime::now() + ttl;
        object
            .storage()
            .set_alarm(expires)
            .await
            .map_err(storage_error)?;
        drop(object);
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(cell.id.clone(), Arc::clone(&cell));
        let seed = {
            let state = cell.state.lock().unwrap_or_else(|p| p.into_inner());
            let mut seed = state.task.clone();
            seed.insert("status".into(), "working".into());
            seed
        };
        let runtime = Arc::clone(self);
        let finishing = Arc::clone(&cell);
        tokio::spawn(async move {
            let outcome = done_rx.await.unwrap_or(Outcome::Expired);
            if let Err(e) = finishing.finish(outcome).await {
                tracing::error!(task = %finishing.id, error = %e, "could not store a task's end");
            }
            runtime
                .running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&finishing.id);
        });
        let mut seed = Value::Object(seed);
        seed["resultType"] = "task".into();
        Ok(CallToolResponse::Task(from_json::<CreateTaskResult>(seed)?))
    }

    fn live(&self, id: &str) -> Option<Arc<TaskCell>> {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The stored task, if `requester` (a session ID, '' for none) started it; one left
    /// unfinished by an earlier process is marked failed first. Another session's task is
    /// unknown to it, exactly as one that never existed.
    async fn load(
        &self,
        id: &str,
        requester: &str,
    ) -> Result<(Object, Map<String, Value>), ErrorData> {
        if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unknown_task(id));
        }
        let object = task_object(&self.host, id).await.map_err(storage_error)?;
        let Some((mut task, runner, owner)) = read_task(&object).await? else {
            return Err(unknown_task(id));
        };
        if owner != requester {
            return Err(unknown_task(id));
        }
        if !is_terminal(&task) && *runner != *self.runner && self.live(id).is_none() {
            task.remove("inputRequests");
            task.insert("status".into(), "failed".into());
            task.insert("lastUpdatedAt".into(), now().into());
            task.insert(
                "error".into(),
                json!({"code": -32603, "message": "the server restarted while this task was running; it did not finish (call the tool again)"}),
            );
            write_task(
                &object,
                &Value::Object(task.clone()).to_string(),
                &self.runner,
                &owner,
            )
            .await
            .map_err(storage_error)?;
        }
        Ok((object, task))
    }

    /// `tasks/get`.
    pub(crate) async fn get(&self, id: &str, requester: &str) -> Result<GetTaskResult, ErrorData> {
        let (_, task) = self.load(id, requester).await?;
        let mut task = Value::Object(task);
        task["resultType"] = "complete".into();
        from_json(task)
    }

    /// `tasks/update`: delivers answers to pending input requests; unknown or already answered
    /// keys are ignored, as the spec says.
    pub(crate) async fn update(
        &self,
        id: &str,
        requester: &str,
        responses: InputResponses,
    ) -> Result<(), ErrorData> {
        let Some(cell) = self.live(id).filter(|c| c.owner == requester) else {
            self.load(id, requester).await?;
            return Ok(());
        };
        let answered: Vec<_> = {
            let mut state = cell.state.lock().unwrap_or_else(|p| p.into_inner());
            responses
                .into_iter()
                .filter_map(|(key, answer)| state.pending.remove(&key).map(|(_, w)| (w, answer)))
                .collect()
        };
        if answered.is_empty() {
            return Ok(());
        }
        // Stored first, so the next `tasks/get` no longer lists the answered requests.
        cell.persist().await.map_err(storage_error)?;
        for (waiter, answer) in answered {
            let _ = waiter.send(answer);
        }
        Ok(())
    }

    /// `tasks/cancel`: stops a running task (it settles to `cancelled`); a finished task is left as it is.
    pub(crate) async fn cancel(&self, id: &str, requester: &str) -> Result<(), ErrorData> {
        if let Some(cell) = self.live(id).filter(|c| c.owner == requester) {
            cell.cancel.cancel();
            return Ok(());
        }
        let (object, mut task) = self.load(id, requester).await?;
        if !is_terminal(&task) {
            task.remove("inputRequests");
            task.insert("status".into(), "cancelled".into());
            task.insert("lastUpdatedAt".into(), now().into());
            write_task(
                &object,
                &Value::Object(task).to_string(),
                &self.runner,
                requester,
            )
            .await
            .map_err(storage_error)?;
        }
        Ok(())
    }

    /// Tasks running in this process.
    pub(crate) fn running(&self) -> usize {
        self.running.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Stops the tasks still running (at the end of a graceful shutdown) and waits (up to
    /// `wait`) until each is recorded as failed, so that none is left `working` in storage.
    pub(crate) async fn stop_all(&self, wait: Duration) {
        let cells: Vec<_> = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect();
        for cell in &cells {
            cell.stopped
                .store(true, std::sync::atomic::Ordering::SeqCst);
            cell.cancel.cancel();
        }
        let deadline = tokio::time::Instant::now() + wait;
        while self.running() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A task record (written here as JSON) as rmcp's type.
fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value)
        .map_err(|e| ErrorData::internal_error(format!("a task record is malformed: {e}"), None))
}
