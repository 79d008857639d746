//! The exported `extern "C"` functions.
//!
//! This is the only module with unsafe code: the workspace denies
//! `unsafe_code`, and a C ABI cannot be written without it (exported
//! symbols need `#[unsafe(no_mangle)]`, and C hands us raw pointers). Each
//! `unsafe` block is a single pointer operation with the caller contract it
//! relies on written next to it; everything else (parsing, the engine
//! calls, error mapping) is safe code in `ops` and `status`.
#![allow(unsafe_code)]

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_char, c_int};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Once;

use crm_core::{Crm, Store};
use crm_store_memory::MemoryStore;
use crm_store_sqlite::SqliteStore;

use crate::ops::{self, Engine};
use crate::status::{CrmStatus, Failure, bound_message, echo};

/// An open engine: a CRM over an in-memory or SQLite store.
///
/// Opaque to C. Create it with `crm_open`, free it with `crm_close`.
///
/// Thread safety: one engine may be used from any number of threads at
/// once (`crm_call` takes a `const crm_engine *`); the store serialises
/// writes, each call is its own transaction. `crm_close` must not run
/// while another thread still uses the engine.
pub struct CrmEngine {
    engine: Engine,
}

// The guarantee above rests on this: the engine is Send + Sync.
const _: fn() = || {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<CrmEngine>();
};

/// The largest string argument `crm_call` accepts, in bytes (64 MiB): a
/// longer `actor_json`, `op` or `request_json` is refused with
/// `CRM_STATUS_INVALID_INPUT` before it is parsed.
pub const CRM_MAX_REQUEST_BYTES: usize = 64 * 1024 * 1024;

/// No operation name is longer than this; a longer one is refused as
/// unknown without listing it whole.
const MAX_OP_BYTES: usize = 64;

thread_local! {
    /// The message of the last failed call on this thread.
    static LAST_ERROR: RefCell<Option<CString>> = const { RefCell::new(None) };
    /// The same failure as JSON (`crm_last_error_json`).
    static LAST_ERROR_JSON: RefCell<Option<CString>> = const { RefCell::new(None) };
    /// Set while this thread runs inside a `guarded` body: the panic hook
    /// stays quiet and records where the panic happened.
    static IN_BOUNDARY: Cell<bool> = const { Cell::new(false) };
    /// Where the last panic inside the boundary happened.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that is quiet for panics
/// inside this library's calls and hands every other panic to the hook
/// that was installed before (the host's own, or Rust's default).
///
/// Why: the default hook prints the panic and a backtrace to stderr, and
/// a C library must not write to its host's stderr; the panic is reported
/// through `crm_last_error()` instead. A Rust host's hook keeps working for
/// its own panics. A host that installs a hook *after* the first
/// `crm_open`/`crm_call` replaces this one: its hook then also sees (and
/// may print) the library's caught panics, which are still caught.
fn install_quiet_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let inside = IN_BOUNDARY.try_with(Cell::get).unwrap_or(false);
            if inside {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()));
                let _ = PANIC_AT.try_with(|slot| *slot.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `body` with panics caught (quietly: see
/// [`install_quiet_panic_hook`]), records its failure (if any) as this
/// thread's last error, and returns its status.
fn guarded(body: impl FnOnce() -> Result<(), Failure>) -> CrmStatus {
    set_last_error(None);
    let result = quietly(body).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".to_owned());
        let at = PANIC_AT
            .try_with(|slot| slot.borrow_mut().take())
            .ok()
            .flatten()
            .map(|at| format!(" (at {at})"))
            .unwrap_or_default();
        Err(Failure::new(
            CrmStatus::Internal,
            format!("internal error (a bug in crm-ffi, please report it): {what}{at}"),
        ))
    });
    match result {
        Ok(()) => CrmStatus::Ok,
        Err(f) => {
            set_last_error(Some(&f));
            f.status
        }
    }
}

/// Runs `body` with panics caught and the panic hook quiet for them.
fn quietly<T>(body: impl FnOnce() -> T) -> std::thread::Result<T> {
    install_quiet_panic_hook();
    let outer = IN_BOUNDARY.try_with(|b| b.replace(true)).unwrap_or(false);
    let result = catch_unwind(AssertUnwindSafe(body));
    let _ = IN_BOUNDARY.try_with(|b| b.set(outer));
    result
}

fn set_last_error(failure: Option<&Failure>) {
    // A message cannot hold NUL bytes in C; replace any.
    let c = |m: &str| CString::new(m.replace('\0', "\u{FFFD}")).unwrap_or_default();
    let (message, json) = match failure {
        Some(f) => {
            let mut f = f.clone();
            f.message = bound_message(&f.message);
            (Some(c(&f.message)), Some(c(&f.to_json().to_string())))
        }
        None => (None, None),
    };
    // Ignore the error when the thread-local is already destroyed (a call
    // made from a thread-local destructor): the status still tells.
    let _ = LAST_ERROR.try_with(|slot| *slot.borrow_mut() = message);
    let _ = LAST_ERROR_JSON.try_with(|slot| *slot.borrow_mut() = json);
}

/// Reads the C string argument `name` as UTF-8.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that stays valid and
/// unchanged for `'a`.
unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Failure> {
    if p.is_null() {
        return Err(Failure::new(
            CrmStatus::NullArgument,
            format!("argument {name} is NULL"),
        ));
    }
    // SAFETY: non-null, and the caller promises a NUL-terminated string.
    let c = unsafe { CStr::from_ptr(p) };
    let len = c.to_bytes().len();
    if len > CRM_MAX_REQUEST_BYTES {
        return Err(Failure::new(
            CrmStatus::InvalidInput,
            format!(
                "argument {name} is {len} bytes long; the most crm_call accepts is CRM_MAX_REQUEST_BYTES ({CRM_MAX_REQUEST_BYTES} bytes)"
            ),
        ));
    }
    c.to_str().map_err(|e| {
        Failure::new(
            CrmStatus::InvalidUtf8,
            format!(
                "argument {name} is not valid UTF-8 (first bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

fn null_arg(name: &str) -> Failure {
    Failure::new(CrmStatus::NullArgument, format!("argument {name} is NULL"))
}

/// Opens an engine.
///
/// `path` is `":memory:"` for a private in-memory store (gone when the
/// engine is closed), or the path of an SQLite database file, created if
/// missing and migrated to the current schema. The path must be UTF-8.
///
/// On success `*out` receives a new engine, owned by the caller, which must
/// free it with `crm_close`. On failure `*out` is set to NULL (when `out`
/// itself is not NULL) and `crm_last_error()` says why.
///
/// # Safety
/// `path` is NULL or a NUL-terminated string; `out` is NULL or points to
/// writable storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crm_open(path: *const c_char, out: *mut *mut CrmEngine) -> CrmStatus {
    guarded(|| {
        if out.is_null() {
            return Err(null_arg("out"));
        }
        // SAFETY: `out` is non-null and the caller promises it is writable.
        unsafe { out.write(ptr::null_mut()) };
        // SAFETY: the caller's promise about `path`; it outlives this call.
        let path = unsafe { arg_str(path, "path") }?;
        let store: Box<dyn Store> = if path == ":memory:" {
            Box::new(MemoryStore::new())
        } else {
            let s = SqliteStore::open(path).map_err(|e| {
                Failure::new(
                    CrmStatus::Storage,
                    format!("cannot open {}: {e}", echo(path)),
                )
            })?;
            Box::new(s)
        };
        let engine = Box::new(CrmEngine {
            engine: Crm::new(store),
        });
        // SAFETY: as above; ownership of the box passes to the caller.
        unsafe { out.write(Box::into_raw(engine)) };
        Ok(())
    })
}

/// Closes an engine and frees it. NULL is ignored.
///
/// Every response string obtained from it stays valid (they are owned by
/// the caller) and must still be freed with `crm_string_free`.
///
/// # Safety
/// `engine` is NULL or a pointer returned by `crm_open` that has not been
/// closed yet, and no other thread is using it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crm_close(engine: *mut CrmEngine) {
    // Not `guarded`: freeing leaves the last error alone, so a caller may
    // free and then read it. A panic while dropping is swallowed.
    let _ = quietly(|| {
        if !engine.is_null() {
            // SAFETY: the caller hands back the box `crm_open` gave out,
            // exactly once.
            drop(unsafe { Box::from_raw(engine) });
        }
    });
}

/// Runs one operation as one actor and returns its result as JSON.
///
/// - `engine`: from `crm_open`; borrowed for the call.
/// - `actor_json`: who acts, `{"type":"system"}` or
///   `{"type":"user","id":"<user id>"}`. A user acts with the roles and
///   teams stored for them; an unknown or deactivated user gets
///   `CRM_STATUS_PERMISSION_DENIED`.
/// - `op`: the operation name, such as `"deal.move"` (see the list in the
///   header's introduction).
/// - `request_json`: the operation's request; NULL means `{}`.
/// - `response_json`: on success receives a new NUL-terminated UTF-8 JSON
///   string owned by the caller, to be freed with `crm_string_free`. On
///   failure it receives NULL.
///
/// Every argument is checked before anything runs: a failure of any kind
/// changes nothing in the store. Strings are borrowed for the duration of
/// the call only.
///
/// # Safety
/// `engine` is NULL or a live engine from `crm_open`; every string argument
/// is NULL or NUL-terminated; `response_json` is NULL or points to writable
/// storage for one pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crm_call(
    engine: *const CrmEngine,
    actor_json: *const c_char,
    op: *const c_char,
    request_json: *const c_char,
    response_json: *mut *mut c_char,
) -> CrmStatus {
    guarded(|| {
        if response_json.is_null() {
            return Err(null_arg("response_json"));
        }
        // SAFETY: non-null, and the caller promises it is writable.
        unsafe { response_json.write(ptr::null_mut()) };
        // SAFETY: the caller promises a live engine (or NULL, checked).
        let engine = unsafe { engine.as_ref() }.ok_or_else(|| null_arg("engine"))?;
        // SAFETY (three calls): the caller's promise about the strings;
        // they outlive this call.
        let actor = unsafe { arg_str(actor_json, "actor_json") }?;
        let op = unsafe { arg_str(op, "op") }?;
        let request = if request_json.is_null() {
            "{}"
        } else {
            unsafe { arg_str(request_json, "request_json") }?
        };
        if op.len() > MAX_OP_BYTES {
            return Err(Failure::new(
                CrmStatus::UnknownOperation,
                format!(
                    "unknown operation {}: no operation name is longer than {MAX_OP_BYTES} bytes",
                    echo(op)
                ),
            ));
        }
        let actor = ops::parse_actor(actor)?;
        let response = ops::call(&engine.engine, actor, op, request)?;
        let response = CString::new(response)
            .map_err(|_| Failure::new(CrmStatus::Internal, "the response contains a NUL byte"))?;
        // SAFETY: checked non-null above; ownership passes to the caller.
        unsafe { response_json.write(response.into_raw()) };
        Ok(())
    })
}

/// Frees a string the library returned (a `crm_call` response). NULL is
/// ignored.
///
/// # Safety
/// `s` is NULL or a string returned by this library that has not been
/// freed yet. Never pass `crm_last_error()` or `crm_version()`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn crm_string_free(s: *mut c_char) {
    // Not `guarded`: freeing leaves the last error alone.
    let _ = quietly(|| {
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` in this library and
            // is freed exactly once (the caller's promise).
            drop(unsafe { CString::from_raw(s) });
        }
    });
}

/// The message of the last failed `crm_open` or `crm_call` on this thread,
/// or `""` when the last of them succeeded (or there was none). Never NULL.
///
/// The string is owned by the library: do not free it. It stays valid
/// until the next `crm_open` or `crm_call` on the same thread (the other
/// functions leave it alone); copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn crm_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|slot| slot.borrow().as_ref().map(|c| c.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"".as_ptr())
}

/// The last failure of `crm_open` or `crm_call` on this thread as JSON,
/// or `"null"` when the last of them succeeded (or there was none). Never
/// NULL.
///
/// Every key is always present, `null` where it does not apply:
///
/// ```text
/// {"status": 5, "status_name": "CRM_STATUS_INVALID_INPUT",
///  "message": "<as crm_last_error()>",
///  "entity": "customer" | "deal" | ... | null,
///  "id": "<record id>" | null,          (null for a record being created)
///  "field": "emails[1]" | "stage" | ... | null,
///  "value": "<the value given, cut to 200 chars>" | null,
///  "reason": "<why>" | null,
///  "path": "amount.amount" | null,      (JSON path in request_json)
///  "rule": {"id": "<rule id>", "name": "<rule name>"} | null}
/// ```
///
/// The string is owned by the library: do not free it. It stays valid
/// until the next `crm_open` or `crm_call` on the same thread, like
/// `crm_last_error()`; copy it to keep it.
#[unsafe(no_mangle)]
pub extern "C" fn crm_last_error_json() -> *const c_char {
    LAST_ERROR_JSON
        .try_with(|slot| slot.borrow().as_ref().map(|c| c.as_ptr()))
        .ok()
        .flatten()
        .unwrap_or(c"null".as_ptr())
}

/// The library's version, such as `"0.1.0"`. A static string: never NULL,
/// never freed.
#[unsafe(no_mangle)]
pub extern "C" fn crm_version() -> *const c_char {
    const VERSION: &CStr =
        match CStr::from_bytes_with_nul(concat!(env!("CARGO_PKG_VERSION"), "\0").as_bytes()) {
            Ok(v) => v,
            Err(_) => c"unknown",
        };
    VERSION.as_ptr()
}

/// The name of a status code, such as `"CRM_STATUS_NOT_FOUND"`, for logs.
/// A static string: never NULL, never freed. A value that is no status
/// gives `"CRM_STATUS_UNKNOWN"`.
#[unsafe(no_mangle)]
pub extern "C" fn crm_status_name(status: c_int) -> *const c_char {
    // Taken as an int, not a `crm_status`: C may pass any value, and an
    // out-of-range enum would be undefined behaviour on the Rust side.
    const NAMES: [&CStr; 14] = [
        c"CRM_STATUS_OK",
        c"CRM_STATUS_NULL_ARGUMENT",
        c"CRM_STATUS_INVALID_UTF8",
        c"CRM_STATUS_INVALID_JSON",
        c"CRM_STATUS_UNKNOWN_OPERATION",
        c"CRM_STATUS_INVALID_INPUT",
        c"CRM_STATUS_NOT_FOUND",
        c"CRM_STATUS_CONFLICT",
        c"CRM_STATUS_TRANSITION_REFUSED",
        c"CRM_STATUS_GUARD_FAILED",
        c"CRM_STATUS_PERMISSION_DENIED",
        c"CRM_STATUS_STORAGE",
        c"CRM_STATUS_INTERNAL",
        c"CRM_STATUS_AUTOMATION_LOOP",
    ];
    usize::try_from(status)
        .ok()
        .and_then(|i| NAMES.get(i))
        .copied()
        .unwrap_or(c"CRM_STATUS_UNKNOWN")
        .as_ptr()
}
