//! Group commit: concurrent [`Store::ingest`] calls share one batch and
//! one pack fsync.
//!
//! The first caller to find nobody committing becomes the *leader*: it
//! takes the writer, puts its own events and every call queued so far into
//! one batch, commits it (one fdatasync), hands each queued call its ack
//! and steps down. Calls arriving meanwhile queue (with a copy of their
//! events, since the leader runs them on its thread) and wait; when the
//! leader steps down, one of them leads the next round. An uncontended call
//! leads at once with its own events and copies nothing.
//!
//! If a shared batch fails (one call goes back in time, say), it is rolled
//! back and every call of the round is retried as a batch of its own, so a
//! call fails only for its own events.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use crate::error::{Result, StoreError};
use crate::ingest::{WriteEvent, apply_events};
use crate::store::{Ack, Batch, Inner, Store, Writer};

/// The queue of calls waiting for the current leader.
#[derive(Debug, Default)]
pub(crate) struct Group {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<Arc<Call>>,
    leading: bool,
}

#[derive(Debug)]
struct Call {
    events: Vec<WriteEvent>,
    /// Set by the leader, under the state lock.
    result: Mutex<Option<Result<Ack>>>,
}

impl Call {
    fn take(&self) -> Option<Result<Ack>> {
        self.result
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

impl Group {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// [`Store::ingest`].
pub(crate) fn ingest(store: &Store, events: &[WriteEvent]) -> Result<Ack> {
    let writer = store
        .writer
        .as_ref()
        .ok_or_else(|| StoreError::Invalid("store was opened read-only".into()))?;
    let group = &store.group;
    let mut st = group.state();
    if !st.leading && st.queue.is_empty() {
        st.leading = true;
        drop(st);
        return lead(&store.inner, writer, group, Some(events))
            .unwrap_or_else(|| unreachable!("a round with own events returns their result"));
    }
    let call = Arc::new(Call {
        events: events.to_vec(),
        result: Mutex::new(None),
    });
    st.queue.push(call.clone());
    loop {
        if let Some(r) = call.take() {
            return r;
        }
        if !st.leading {
            st.leading = true;
            drop(st);
            lead(&store.inner, writer, group, None);
            st = group.state();
            continue;
        }
        st = group.wake.wait(st).unwrap_or_else(PoisonError::into_inner);
    }
}

/// Runs one round as leader: `own` events (the leader's, not queued) and
/// every queued call. Returns the result for `own`.
fn lead(
    inner: &Inner,
    writer: &Mutex<Writer>,
    group: &Group,
    own: Option<&[WriteEvent]>,
) -> Option<Result<Ack>> {
    let mut w = writer.lock().unwrap_or_else(PoisonError::into_inner);
    let calls = std::mem::take(&mut group.state().queue);
    let mut round = Round {
        group,
        calls: &calls,
        done: false,
    };
    let lists: Vec<&[WriteEvent]> = own
        .into_iter()
        .chain(calls.iter().map(|c| c.events.as_slice()))
        .collect();
    let mut results = run(inner, &mut w, &lists).into_iter();
    drop(w);
    let own_result = if own.is_some() { results.next() } else { None };
    let st = group.state();
    for (call, r) in calls.iter().zip(results) {
        *call.result.lock().unwrap_or_else(PoisonError::into_inner) = Some(r);
    }
    drop(st);
    round.done = true;
    own_result
}

/// Ends a leader's round: steps down and wakes the waiters — also when the
/// round unwinds from a panic, in which case its calls get an error rather
/// than waiting forever.
struct Round<'a> {
    group: &'a Group,
    calls: &'a [Arc<Call>],
    done: bool,
}

impl Drop for Round<'_> {
    fn drop(&mut self) {
        let mut st = self.group.state();
        if !self.done {
            for call in self.calls {
                let mut r = call.result.lock().unwrap_or_else(PoisonError::into_inner);
                if r.is_none() {
                    *r = Some(Err(StoreError::Invalid(
                        "the ingest that carried these events panicked; they are not stored".into(),
                    )));
                }
            }
        }
        st.leading = false;
        drop(st);
        self.group.wake.notify_all();
    }
}

/// Commits `lists` as one batch, or — if that fails and there are several —
/// each as a batch of its own. One result per list.
fn run(inner: &Inner, writer: &mut Writer, lists: &[&[WriteEvent]]) -> Vec<Result<Ack>> {
    if lists.len() > 1
        && let Ok(acks) = together(inner, writer, lists)
    {
        return acks.into_iter().map(Ok).collect();
    }
    lists
        .iter()
        .map(|l| {
            together(inner, writer, std::slice::from_ref(l))
                .map(|a| a.into_iter().next().unwrap_or_default())
        })
        .collect()
}

/// One batch holding every list, applied in order; one ack per list (same
/// `seq`, each with its own counts).
fn together(inner: &Inner, writer: &mut Writer, lists: &[&[WriteEvent]]) -> Result<Vec<Ack>> {
    let mut batch = Batch::start(inner, writer)?;
    let mut acks = Vec::with_capacity(lists.len());
    for events in lists {
        let before = batch.ack_so_far();
        apply_events(&mut batch, events)?;
        let after = batch.ack_so_far();
        acks.push(Ack {
            seq: after.seq,
            blocks: after.blocks - before.blocks,
            new_chunks: after.new_chunks - before.new_chunks,
            stored_bytes: after.stored_bytes - before.stored_bytes,
        });
    }
    batch.commit()?;
    Ok(acks)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Change;
    use crate::{StoreOptions, View};
    use kairos_parsers::{Source, SourceExt};

    fn write(stream: &str, ts: i64, offset: u64, byte: u8) -> WriteEvent {
        WriteEvent {
            stream: stream.into(),
            timestamp_ns: ts,
            change: Change::Write {
                offset,
                data: vec![byte; 5000],
            },
        }
    }

    fn bytes(v: &View) -> Vec<u8> {
        v.read_vec_at(0, v.len()).expect("read view")
    }

    #[test]
    fn a_round_is_one_batch_and_a_bad_call_fails_alone() {
        let dir = tempfile::tempdir().expect("tempdir");
        Store::init(dir.path(), StoreOptions::default()).expect("init");
        let mut store = Store::open(dir.path()).expect("open");
        store.ingest(&[write("b", 50, 0, 9)]).expect("first");
        let inner = store.inner.clone();
        let w = store
            .writer
            .as_mut()
            .expect("writer")
            .get_mut()
            .expect("lock");
        // Three good calls: one batch, one seq, counts per call.
        let (a1, a2, a3) = (
            [write("a", 100, 0, 1)],
            [write("a", 200, 3000, 2), write("b", 200, 8192, 3)],
            [write("c", 300, 0, 4)],
        );
        let r = run(&inner, w, &[&a1, &a2, &a3]);
        let acks: Vec<Ack> = r.into_iter().map(|r| r.expect("ok")).collect();
        assert!(acks.iter().all(|a| a.seq == acks[0].seq), "{acks:?}");
        assert_eq!(
            acks.iter().map(|a| a.blocks).collect::<Vec<_>>(),
            vec![1, 2, 1]
        );
        // The middle call goes back in time for "b": it alone fails.
        let (b1, b2, b3) = (
            [write("a", 400, 0, 5)],
            [write("b", 10, 0, 6)],
            [write("c", 500, 0, 7)],
        );
        let r = run(&inner, w, &[&b1, &b2, &b3]);
        assert!(matches!(r[1], Err(StoreError::BackInTime { .. })), "{r:?}");
        let (s1, s3) = (
            r[0].as_ref().expect("first ok").seq,
            r[2].as_ref().expect("third ok").seq,
        );
        assert!(s3 > s1, "retried alone: {s1} {s3}");
        let mut want_a = vec![1u8; 3000];
        want_a.resize(8000, 2);
        assert!(bytes(&store.view("a", Some(200)).expect("a")) == want_a);
        want_a[..5000].fill(5);
        assert!(bytes(&store.view("a", None).expect("a")) == want_a);
        let b = bytes(&store.view("b", None).expect("b"));
        assert_eq!((b.len(), b[0], b[8192]), (8192 + 5000, 9, 3));
        assert!(bytes(&store.view("c", None).expect("c")) == vec![7u8; 5000]);
    }
}
