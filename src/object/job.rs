//! Jobs and their basic policy.
//!
//! A job carries a table with one entry per `ZX_POL_*` condition: an action
//! and an override bit. A child job starts with a copy of its parent's table;
//! a process copies its job's table when it is created and keeps it for life
//! (Zircon forbids changing a job's policy once it has child jobs or
//! processes, so the copy never goes stale).
//!
//! `zx_job_set_policy` follows Zircon's `JobPolicy::AddBasicPolicy`:
//! an entry may be changed only while its override bit is `ALLOW`; entries
//! set through `ZX_JOB_POL_BASIC_V1` get `OVERRIDE_DENY`, so a job's
//! descendants can only add restrictions, never lift one. Changing a locked
//! entry is silently ignored in `RELATIVE` mode and fails with
//! `ALREADY_EXISTS` in `ABSOLUTE` mode.
//!
//! Actions needing exception channels (`ALLOW_EXCEPTION`, `DENY_EXCEPTION`)
//! and `KILL` are refused with `NOT_SUPPORTED` when the policy is set: this
//! crate has no exception channels and no process-kill path.
//!
//! Lock: `Job::state`; the only lock taken under it is a process's `life`
//! (a leaf), to ask whether the process is still alive.

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::abi::{
    ZX_JOB_POL_ABSOLUTE, ZX_JOB_POL_RELATIVE, ZX_POL_ACTION_ALLOW, ZX_POL_ACTION_DENY,
    ZX_POL_ACTION_MAX, ZX_POL_MAX, ZX_POL_NEW_ANY, ZX_POL_NEW_CHANNEL, ZX_POL_NEW_EVENT,
    ZX_POL_NEW_EVENTPAIR, ZX_POL_NEW_FIFO, ZX_POL_NEW_IOB, ZX_POL_NEW_PAGER, ZX_POL_NEW_PORT,
    ZX_POL_NEW_PROCESS, ZX_POL_NEW_PROFILE, ZX_POL_NEW_SAMPLER, ZX_POL_NEW_SOCKET,
    ZX_POL_NEW_TIMER, ZX_POL_NEW_VMO, ZX_POL_OVERRIDE_ALLOW, ZX_POL_OVERRIDE_DENY,
    zx_policy_basic_v2_t,
};
use crate::error::{Error, Result};
use crate::heap::Reserve;
use crate::platform::Platform;

use super::{Process, next_koid};

/// Every "new object" condition that `ZX_POL_NEW_ANY` stands for (Zircon's
/// `kNewObjectPolicies`).
const NEW_OBJECT_CONDITIONS: [u32; 13] = [
    ZX_POL_NEW_VMO,
    ZX_POL_NEW_CHANNEL,
    ZX_POL_NEW_EVENT,
    ZX_POL_NEW_EVENTPAIR,
    ZX_POL_NEW_PORT,
    ZX_POL_NEW_SOCKET,
    ZX_POL_NEW_FIFO,
    ZX_POL_NEW_TIMER,
    ZX_POL_NEW_PROCESS,
    ZX_POL_NEW_PROFILE,
    ZX_POL_NEW_PAGER,
    ZX_POL_NEW_IOB,
    ZX_POL_NEW_SAMPLER,
];

/// Whether a policy action is allowed or denied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyAction {
    /// `ZX_POL_ACTION_ALLOW`.
    Allow,
    /// `ZX_POL_ACTION_DENY`: the operation fails with `ACCESS_DENIED`.
    Deny,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    action: PolicyAction,
    /// `ZX_POL_OVERRIDE_ALLOW`: may still be changed.
    overridable: bool,
}

/// A job's basic policy table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JobPolicy {
    entries: [Entry; ZX_POL_MAX as usize],
}

impl Default for JobPolicy {
    /// The root job's policy: everything allowed, everything overridable.
    fn default() -> Self {
        JobPolicy {
            entries: [Entry {
                action: PolicyAction::Allow,
                overridable: true,
            }; ZX_POL_MAX as usize],
        }
    }
}

impl JobPolicy {
    /// The action for `condition` (`ZX_POL_*`); unknown conditions and
    /// `NEW_ANY` query as `Deny`, as in Zircon.
    pub fn query(&self, condition: u32) -> PolicyAction {
        if condition == ZX_POL_NEW_ANY {
            return PolicyAction::Deny;
        }
        self.entries
            .get(condition as usize)
            .map_or(PolicyAction::Deny, |e| e.action)
    }

    /// `ACCESS_DENIED` if the policy denies `condition`.
    ///
    /// # Errors
    ///
    /// [`Error::AccessDenied`] when the action is `Deny`.
    pub fn enforce(&self, condition: u32) -> Result<()> {
        match self.query(condition) {
            PolicyAction::Allow => Ok(()),
            PolicyAction::Deny => Err(Error::AccessDenied("denied by job policy")),
        }
    }

    fn add_partial(&mut self, mode: u32, condition: u32, action: u32, flags: u32) -> Result<()> {
        if action >= ZX_POL_ACTION_MAX {
            return Err(Error::NotSupported("unknown policy action"));
        }
        let action = match action {
            ZX_POL_ACTION_ALLOW => PolicyAction::Allow,
            ZX_POL_ACTION_DENY => PolicyAction::Deny,
            _ => {
                return Err(Error::NotSupported(
                    "exception and kill policy actions are not supported",
                ));
            }
        };
        let overridable = match flags {
            ZX_POL_OVERRIDE_ALLOW => true,
            ZX_POL_OVERRIDE_DENY => false,
            _ => return Err(Error::InvalidArgs("bad policy override flags")),
        };
        if condition >= ZX_POL_MAX || condition == ZX_POL_NEW_ANY {
            return Err(Error::InvalidArgs("bad policy condition"));
        }
        let entry = &mut self.entries[condition as usize];
        if entry.overridable {
            *entry = Entry {
                action,
                overridable,
            };
            return Ok(());
        }
        if entry.action == action && !overridable {
            return Ok(());
        }
        if mode == ZX_JOB_POL_ABSOLUTE {
            Err(Error::AlreadyExists("policy entry is locked by a parent"))
        } else {
            Ok(())
        }
    }

    /// Applies basic-policy entries (V2 form) all or nothing.
    ///
    /// # Errors
    ///
    /// `OUT_OF_RANGE` for more than `ZX_POL_MAX` entries; per entry, in
    /// order, `NOT_SUPPORTED` (action), `INVALID_ARGS` (override flags,
    /// condition), `ALREADY_EXISTS` (absolute mode, locked entry).
    pub fn add_basic(&mut self, mode: u32, entries: &[zx_policy_basic_v2_t]) -> Result<()> {
        if entries.len() > ZX_POL_MAX as usize {
            return Err(Error::OutOfRange("too many policy entries"));
        }
        let mut updated = *self;
        let mut new_any_flags = None;
        for e in entries {
            if e.condition == ZX_POL_NEW_ANY {
                for cond in NEW_OBJECT_CONDITIONS {
                    updated.add_partial(mode, cond, e.action, ZX_POL_OVERRIDE_ALLOW)?;
                }
                new_any_flags = Some(e.flags);
            } else {
                updated.add_partial(mode, e.condition, e.action, e.flags)?;
            }
        }
        if let Some(flags) = new_any_flags {
            let overridable = match flags {
                ZX_POL_OVERRIDE_ALLOW => true,
                ZX_POL_OVERRIDE_DENY => false,
                _ => return Err(Error::InvalidArgs("bad policy override flags")),
            };
            for cond in NEW_OBJECT_CONDITIONS {
                updated.entries[cond as usize].overridable = overridable;
            }
        }
        *self = updated;
        Ok(())
    }
}

struct JobState {
    policy: JobPolicy,
    children: Vec<Weak<Job>>,
    processes: Vec<Weak<dyn LiveObject>>,
}

/// Something whose liveness a job tracks (its processes).
trait LiveObject: Send + Sync {
    /// Whether it still counts (a dead process does not).
    fn is_alive(&self) -> bool;
    /// Ends it at once ([`Process::terminate`]).
    fn terminate(&self);
    /// Kills it ([`Process::kill`]).
    fn kill(&self, retcode: i64);
}
impl<P: Platform> LiveObject for Process<P> {
    fn is_alive(&self) -> bool {
        self.state() != super::ProcessState::Dead
    }
    fn terminate(&self) {
        Process::terminate(self);
    }
    fn kill(&self, retcode: i64) {
        Process::kill(self, retcode);
    }
}

fn alive(w: &Weak<dyn LiveObject>) -> bool {
    w.upgrade().is_some_and(|p| p.is_alive())
}

/// A job: a node in the job tree that carries policy for its processes.
///
/// Jobs are not generic over the platform: they hold no memory.
pub struct Job {
    koid: u64,
    parent: Option<Arc<Job>>,
    state: Mutex<JobState>,
}

impl Job {
    /// A root job: no parent, everything allowed.
    pub fn new_root() -> Arc<Job> {
        Arc::new(Job {
            koid: next_koid(),
            parent: None,
            state: Mutex::new(JobState {
                policy: JobPolicy::default(),
                children: Vec::new(),
                processes: Vec::new(),
            }),
        })
    }

    /// A child job inheriting this job's policy.
    ///
    /// # Errors
    ///
    /// `NO_MEMORY` if the child list cannot grow.
    pub fn create_child(self: &Arc<Job>) -> Result<Arc<Job>> {
        let mut state = self.state.lock();
        state.children.retain(|w| w.strong_count() > 0);
        state.children.reserve_fallibly(1)?;
        let child = Arc::new(Job {
            koid: next_koid(),
            parent: Some(self.clone()),
            state: Mutex::new(JobState {
                policy: state.policy,
                children: Vec::new(),
                processes: Vec::new(),
            }),
        });
        state.children.push(Arc::downgrade(&child));
        Ok(child)
    }

    /// The job's koid.
    pub fn koid(&self) -> u64 {
        self.koid
    }

    /// The parent job's koid, or 0 for a root job.
    pub fn parent_koid(&self) -> u64 {
        self.parent.as_ref().map_or(0, |p| p.koid)
    }

    /// A copy of the job's current policy.
    pub fn policy(&self) -> JobPolicy {
        self.state.lock().policy
    }

    /// `zx_job_set_policy` for the basic topics, entries already in V2 form.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGS` for a bad mode, `BAD_STATE` while the job has live
    /// child jobs or processes, then [`JobPolicy::add_basic`]'s errors.
    pub fn set_basic_policy(&self, mode: u32, entries: &[zx_policy_basic_v2_t]) -> Result<()> {
        if mode != ZX_JOB_POL_RELATIVE && mode != ZX_JOB_POL_ABSOLUTE {
            return Err(Error::InvalidArgs("bad policy mode"));
        }
        let mut state = self.state.lock();
        let has_children = state.children.iter().any(|w| w.strong_count() > 0);
        let has_processes = state.processes.iter().any(alive);
        if has_children || has_processes {
            return Err(Error::BadState("job has child jobs or processes"));
        }
        state.policy.add_basic(mode, entries)
    }

    /// Terminates every process of this job and of its descendants, as
    /// [`Process::terminate`]: the host's teardown of a whole job tree when
    /// none of its threads runs any more. Processes made meanwhile (by the
    /// handles being closed) are caught too: it repeats until none is left.
    pub fn terminate_processes(&self) {
        loop {
            let (processes, children) = {
                let state = self.state.lock();
                let p: Vec<_> = state.processes.iter().filter_map(Weak::upgrade).collect();
                let c: Vec<_> = state.children.iter().filter_map(Weak::upgrade).collect();
                (p, c)
            };
            for c in &children {
                c.terminate_processes();
            }
            let live: Vec<_> = processes.into_iter().filter(|p| p.is_alive()).collect();
            if live.is_empty() {
                return;
            }
            for p in live {
                p.terminate();
            }
        }
    }

    /// `zx_task_kill` of the job: kills every process of this job and of
    /// its descendants (their threads die at their next crate call).
    pub fn kill_processes(&self, retcode: i64) {
        let (processes, children) = {
            let state = self.state.lock();
            let p: Vec<_> = state.processes.iter().filter_map(Weak::upgrade).collect();
            let c: Vec<_> = state.children.iter().filter_map(Weak::upgrade).collect();
            (p, c)
        };
        for c in &children {
            c.kill_processes(retcode);
        }
        for p in processes {
            p.kill(retcode);
        }
    }

    /// Records a new process of this job (so the job's policy is frozen
    /// while the process lives).
    pub(crate) fn attach_process<P: Platform>(&self, process: &Arc<Process<P>>) -> Result<()> {
        let mut state = self.state.lock();
        state.processes.retain(alive);
        state.processes.reserve_fallibly(1)?;
        let weak: Weak<dyn LiveObject> = Arc::downgrade(process) as Weak<Process<P>>;
        state.processes.push(weak);
        Ok(())
    }
}
