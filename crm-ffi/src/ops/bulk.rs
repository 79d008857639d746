//! Bulk data in and out: CSV and backups cross either inline, as a JSON
//! string, or as the path of a file the library reads or writes.
//!
//! - In (imports, `backup.restore`): exactly one of the inline field
//!   (`"csv"` or `"backup"`) and `"path"`.
//! - Out (exports, `backup.create`): without `"path"` the response holds
//!   the text inline; with it, the library writes the file (created or
//!   replaced, through a temporary `<path>.partial` renamed when complete,
//!   so a failed export never leaves half a file) and the response names
//!   the path.
//!
//! A file that cannot be read or written is `CRM_STATUS_STORAGE`, with the
//! path and the system's reason.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::status::{CrmStatus, Failure};

/// Bulk input: the text itself or a file to read.
pub(super) enum Input {
    /// Given inline.
    Text(String),
    /// Read from this file.
    File(PathBuf),
}

impl Input {
    /// The one of `inline` (the field named `field`) and `path` given.
    pub(super) fn one_of(
        field: &str,
        inline: Option<String>,
        path: Option<String>,
    ) -> Result<Input, Failure> {
        match (inline, path) {
            (Some(t), None) => Ok(Input::Text(t)),
            (None, Some(p)) => Ok(Input::File(PathBuf::from(p))),
            _ => Err(Failure::new(
                CrmStatus::InvalidInput,
                format!(
                    "request: give exactly one of \"{field}\" (the data as a string) and \"path\" (a file to read)"
                ),
            )),
        }
    }

    /// Runs `f` over the input's bytes.
    pub(super) fn read<T>(
        &self,
        f: impl FnOnce(&mut dyn std::io::BufRead) -> Result<T, Failure>,
    ) -> Result<T, Failure> {
        match self {
            Input::Text(t) => f(&mut t.as_bytes()),
            Input::File(p) => {
                let file = File::open(p).map_err(|e| io_failure("read", p, &e))?;
                f(&mut BufReader::new(file))
            }
        }
    }
}

/// Writes what `f` produces to `path`, or returns it as a string when
/// `path` is `None`.
pub(super) fn write<T>(
    path: Option<&str>,
    f: impl FnOnce(&mut dyn Write) -> crm_core::Result<T>,
) -> Result<(T, Option<String>), Failure> {
    match path {
        None => {
            let mut buf = Vec::new();
            let out = f(&mut buf)?;
            let text = String::from_utf8(buf).map_err(|e| {
                Failure::new(CrmStatus::Internal, format!("the output is not UTF-8: {e}"))
            })?;
            Ok((out, Some(text)))
        }
        Some(p) => {
            let path = Path::new(p);
            let mut partial = path.as_os_str().to_owned();
            partial.push(".partial");
            let partial = PathBuf::from(partial);
            let file = File::create(&partial).map_err(|e| io_failure("create", &partial, &e))?;
            let mut w = BufWriter::new(file);
            let result = f(&mut w).map_err(Failure::from).and_then(|out| {
                w.flush().map_err(|e| io_failure("write", &partial, &e))?;
                Ok(out)
            });
            drop(w);
            match result {
                Ok(out) => {
                    std::fs::rename(&partial, path)
                        .map_err(|e| io_failure("rename", &partial, &e))?;
                    Ok((out, None))
                }
                Err(e) => {
                    // Best effort: the partial file is ours; its removal
                    // failing leaves only a `.partial` file behind.
                    let _ = std::fs::remove_file(&partial);
                    Err(e)
                }
            }
        }
    }
}

fn io_failure(what: &str, path: &Path, e: &std::io::Error) -> Failure {
    Failure::new(
        CrmStatus::Storage,
        format!("request.path: cannot {what} {}: {e}", path.display()),
    )
}
