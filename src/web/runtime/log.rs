//! The background task's database. The tutorial's `log_prediction_details` "writes to a
//! log file or database": here it writes each request and response to IndexedDB, the
//! browser's embedded database, from the pool worker that runs the task, within the
//! task's configured time. The page reads the log back, keeps it across reloads, clears
//! and exports it.
//!
//! Each realm (the page, each pool worker) opens its own connection. Where IndexedDB is
//! unavailable or refuses a write (private mode, quota, a browser that will not open
//! it), the entry is kept in the page's memory with the reason: nothing is lost
//! silently.

use super::protocol::LogTo;
use idb::{Database, DatabaseEvent, Error, Factory, ObjectStoreParams, TransactionMode, TransactionResult};
use loopscope::model::{LogEntry, Variant};
use serde::Serialize;
use std::cell::RefCell;
use std::future::Future;
use std::rc::Rc;
use wasm_bindgen::{JsCast, JsValue};

const DB_NAME: &str = "loopscope";
const DB_VERSION: u32 = 1;
const STORE: &str = "predictions";

thread_local! {
    /// This realm's connection, once opened.
    static DB: RefCell<Option<Database>> = const { RefCell::new(None) };
    /// The page's rows that IndexedDB could not take, kept until the page closes.
    static MEMORY: RefCell<Vec<LogEntry>> = const { RefCell::new(Vec::new()) };
    /// Told when the page's log changed.
    static ON_CHANGE: RefCell<Option<ChangeListener>> = RefCell::default();
}

/// Where the background tasks of a run named `run` (of endpoint `variant`) log: the
/// page's database, opened now, or the reason it could not be.
pub async fn log_to(run: String, variant: Variant) -> LogTo {
    LogTo {
        run,
        variant,
        db: open().await,
    }
}

/// A run's name in the log: when it started (local time) and what started it.
pub fn run_name(by: &str) -> String {
    let date = js_sys::Date::new_0();
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} {by}",
        date.get_full_year(),
        date.get_month() + 1,
        date.get_date(),
        date.get_hours(),
        date.get_minutes(),
        date.get_seconds()
    )
}

/// Told how the page's log changed.
pub type ChangeListener = Rc<dyn Fn(&Change)>;

/// How the page's log changed.
pub enum Change {
    /// A log task wrote this row (or, `stored` false, it is kept in memory).
    Row(LogEntry),
    /// It was emptied.
    Cleared,
}

/// The page heard that a log task wrote `entry` (or kept it, when the database would
/// not): a row not stored is kept in memory.
pub fn heard(entry: &LogEntry) {
    if !entry.stored {
        MEMORY.with(|m| m.borrow_mut().push(entry.clone()));
    }
    changed(&Change::Row(entry.clone()));
}

/// `f` is told whenever the log changes.
pub fn on_change(f: ChangeListener) {
    ON_CHANGE.with(|l| *l.borrow_mut() = Some(f));
}

fn changed(change: &Change) {
    if let Some(f) = ON_CHANGE.with(|l| l.borrow().clone()) {
        f(change);
    }
}

/// The whole log, newest first: the rows in IndexedDB and those kept in memory, and,
/// when some are only in memory or the database cannot be read, why.
pub struct Rows {
    pub entries: Vec<LogEntry>,
    pub problem: Option<String>,
}

/// Everything logged: IndexedDB's rows and the page's memory, newest first.
pub async fn rows() -> Rows {
    let (mut entries, db_problem) = match open().await {
        Ok(()) => match all().await {
            Ok(rows) => (rows, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        Err(e) => (Vec::new(), Some(e)),
    };
    let memory = MEMORY.with(|m| m.borrow().clone());
    let memory_problem = memory.iter().find_map(|e| e.error.clone());
    entries.extend(memory);
    entries.sort_by(LogEntry::newest_first);
    Rows {
        entries,
        problem: memory_problem.or(db_problem),
    }
}

/// Empties the log: IndexedDB's rows and the page's memory.
pub async fn clear_all() -> Result<(), String> {
    MEMORY.with(|m| m.borrow_mut().clear());
    let result = match open().await {
        Ok(()) => clear().await,
        Err(_) => Ok(()), // nothing stored to clear
    };
    changed(&Change::Cleared);
    result
}

/// Opens (creating on first use) the database for this realm; the reason when it
/// cannot.
pub async fn open() -> Result<(), String> {
    if DB.with(|db| db.borrow().is_some()) {
        return Ok(());
    }
    let factory = Factory::new().map_err(describe)?;
    let mut request = factory.open(DB_NAME, Some(DB_VERSION)).map_err(describe)?;
    request.on_upgrade_needed(|event| {
        if let Ok(db) = event.database() {
            if !db.store_names().iter().any(|s| s == STORE) {
                let mut params = ObjectStoreParams::new();
                params.auto_increment(true); // keys in write order
                let _ = db.create_object_store(STORE, params);
            }
        }
    });
    let mut db = request.await.map_err(describe)?;
    // Another context opening a newer version is let through; this connection closes.
    db.on_version_change(|event| {
        if let Some(target) = event.target() {
            target.unchecked_into::<web_sys::IdbDatabase>().close();
        }
    });
    DB.with(|slot| *slot.borrow_mut() = Some(db));
    Ok(())
}

fn value_of<T: Serialize>(row: &T) -> Result<JsValue, String> {
    row.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| format!("the entry cannot be written: {e}"))
}

/// Issues the write of `entry` now (IndexedDB does it on its own thread, while this
/// one goes on, even blocked), and gives what resolves once it is committed.
pub fn write(entry: &LogEntry) -> Result<impl Future<Output = Result<(), String>>, String> {
    // A row read back from the database is, by being there, stored.
    let value = value_of(&LogEntry {
        stored: true,
        error: None,
        ..entry.clone()
    })?;
    let (tx, store) = DB.with(|db| -> Result<_, String> {
        let db = db.borrow();
        let db = db.as_ref().ok_or("the database is not open")?;
        let tx = db
            .transaction(&[STORE], TransactionMode::ReadWrite)
            .map_err(describe)?;
        let store = tx.object_store(STORE).map_err(describe)?;
        Ok((tx, store))
    })?;
    let request = store.put(&value, None).map_err(describe)?;
    // Commit now: a transaction otherwise commits only once this thread has returned to
    // its event loop and heard the put succeed, which for a task that holds its thread
    // (`time.sleep`) is after the task's time, and then all the tasks of a burst commit
    // one after another (BENCHMARKS.md, "The background task's log").
    let tx = tx.commit().map_err(describe)?;
    Ok(async move {
        request.await.map_err(describe)?;
        finish(tx, &store).await
    })
}

/// Every entry in the database, newest first.
async fn all() -> Result<Vec<LogEntry>, String> {
    let (tx, store) = read_tx(TransactionMode::ReadOnly)?;
    let values = store
        .get_all(None, None)
        .map_err(describe)?
        .await
        .map_err(describe)?;
    finish(tx, &store).await?;
    values
        .into_iter()
        .rev()
        .map(|v| {
            serde_wasm_bindgen::from_value(v).map_err(|e| format!("a row of the log cannot be read: {e}"))
        })
        .collect()
}

/// Deletes every entry in the database.
async fn clear() -> Result<(), String> {
    let (tx, store) = read_tx(TransactionMode::ReadWrite)?;
    store.clear().map_err(describe)?.await.map_err(describe)?;
    finish(tx, &store).await
}

fn read_tx(mode: TransactionMode) -> Result<(idb::Transaction, idb::ObjectStore), String> {
    DB.with(|db| {
        let db = db.borrow();
        let db = db.as_ref().ok_or("the database is not open")?;
        let tx = db.transaction(&[STORE], mode).map_err(describe)?;
        let store = tx.object_store(STORE).map_err(describe)?;
        Ok((tx, store))
    })
}

/// Waits for the transaction to commit (it does once no request is pending); an abort
/// (a quota exceeded) is an error with its reason.
async fn finish(tx: idb::Transaction, store: &idb::ObjectStore) -> Result<(), String> {
    let same = store.transaction(); // to read `.error` after an abort
    match tx.await {
        Ok(TransactionResult::Committed) => Ok(()),
        Ok(TransactionResult::Aborted) => Err(match same.error() {
            Some(e) => format!("IndexedDB refused the write: {}: {}", e.name(), e.message()),
            None => "IndexedDB refused the write".into(),
        }),
        Err(e) => Err(describe(e)),
    }
}

/// An `idb::Error` as one line.
fn describe(e: Error) -> String {
    match e {
        Error::DomException(d) => format!("IndexedDB: {}: {}", d.name(), d.message()),
        Error::IndexedDbNotFound(v) => format!("IndexedDB is unavailable here: {}", js_text(&v)),
        other => format!("IndexedDB: {other}"),
    }
}

fn js_text(v: &JsValue) -> String {
    if let Some(d) = v.dyn_ref::<web_sys::DomException>() {
        format!("{}: {}", d.name(), d.message())
    } else if v.is_null() || v.is_undefined() {
        "indexedDB is not there".into()
    } else if let Some(e) = v.dyn_ref::<js_sys::Error>() {
        String::from(e.message())
    } else {
        v.as_string().unwrap_or_else(|| format!("{v:?}"))
    }
}
