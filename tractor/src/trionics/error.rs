//! The errors of the trionics helpers.

use std::time::Duration;

/// Any error a task may return: what [`TaskError::Failed`] carries.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a task of a [`TaskNursery`](super::TaskNursery), or the nursery
/// itself, failed.
///
/// A nursery returns one `TaskError`: the only failure, or
/// [`TaskError::Many`] holding every failure (none dropped), in the order
/// they were seen. Errors a task returns are boxed into
/// [`TaskError::Failed`], except a `TaskError` itself (say from a `?` on
/// [`TaskNursery::start`](super::TaskNursery::start)), which is kept as is.
///
/// ```
/// use tractor::trionics::TaskError;
///
/// let e = TaskError::Many(vec![
///     TaskError::failed("disk full"),
///     TaskError::Panicked { message: "boom".into() },
/// ]);
/// assert_eq!(e.into_errors().len(), 2);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A task (or the nursery's body) returned this error.
    #[error("a task failed: {0}; its siblings were cancelled")]
    Failed(#[source] BoxError),
    /// A task panicked; the panic was caught and its siblings cancelled.
    #[error("a task panicked: {message}; its siblings were cancelled (fix the panic)")]
    Panicked {
        /// The panic's message (`"<non-string panic payload>"` if it had none).
        message: String,
    },
    /// A task given to [`TaskNursery::start`](super::TaskNursery::start)
    /// ended without reporting itself started.
    #[error(
        "the task ended before calling `TaskStatus::started`; call `started(value)` once it is ready"
    )]
    NeverStarted,
    /// The nursery was cancelled (by [`TaskNursery::cancel`](super::TaskNursery::cancel)
    /// or a sibling's failure) before the body or a starting task finished.
    #[error("the task nursery was cancelled before this finished; see the nursery's other errors")]
    Cancelled,
    /// More than one task failed; every failure is kept, in the order seen.
    #[error("{} tasks failed: {}", .0.len(), list(.0))]
    Many(Vec<TaskError>),
}

fn list(errors: &[TaskError]) -> String {
    errors
        .iter()
        .enumerate()
        .map(|(i, e)| format!("[{}] {e}", i + 1))
        .collect::<Vec<_>>()
        .join("; ")
}

impl TaskError {
    /// Wraps any error as [`TaskError::Failed`] (a `TaskError` stays as it is).
    ///
    /// ```
    /// let e = tractor::trionics::TaskError::failed("no route");
    /// assert!(e.to_string().contains("no route"));
    /// ```
    pub fn failed(error: impl Into<BoxError>) -> TaskError {
        let boxed: BoxError = error.into();
        match boxed.downcast::<TaskError>() {
            Ok(task_error) => *task_error,
            Err(other) => TaskError::Failed(other),
        }
    }

    /// Every failure inside, with [`TaskError::Many`] flattened.
    ///
    /// ```
    /// use tractor::trionics::TaskError;
    /// assert_eq!(TaskError::NeverStarted.into_errors().len(), 1);
    /// ```
    pub fn into_errors(self) -> Vec<TaskError> {
        match self {
            TaskError::Many(errors) => errors
                .into_iter()
                .flat_map(TaskError::into_errors)
                .collect(),
            other => vec![other],
        }
    }

    /// Builds the error a nursery reports from the failures it saw: `None`
    /// if there were none, the error itself if one, [`TaskError::Many`] else.
    pub(crate) fn collect(mut errors: Vec<TaskError>) -> Option<TaskError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(TaskError::Many(errors)),
        }
    }

    pub(crate) fn from_panic(payload: Box<dyn std::any::Any + Send>) -> TaskError {
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "<non-string panic payload>".to_string()
        };
        TaskError::Panicked { message }
    }
}

/// [`fail_after`](super::fail_after) (or a [`CancelScope`](super::CancelScope)
/// deadline) ran out before the work finished; the work was cancelled.
///
/// ```
/// use std::time::Duration;
/// let e = tractor::trionics::Elapsed { after: Duration::from_millis(5) };
/// assert!(e.to_string().contains("5ms"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the deadline passed after {after:?} and the work was cancelled; allow more time or do less"
)]
pub struct Elapsed {
    /// How long the work was given.
    pub after: Duration,
}
