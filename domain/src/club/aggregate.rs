//! The club aggregate: its card, its members and their roles, and who waits for approval.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use uuid::Uuid;

use crate::aggregate::Aggregate;
use crate::club::{
    ClubCommand, ClubCreated, ClubEvent, ClubMemberJoined, ClubMemberLeft, ClubPatch,
    ClubRoleChanged, ClubUpdated, JoinRejected, JoinRequested,
};
use crate::error::{ErrorKind, Rejection};
use crate::services::Services;

/// Who may join a club.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JoinPolicy {
    /// Anyone, at once.
    Open,
    /// Whoever an owner or manager lets in.
    Approval,
}

/// What a member may do in a club.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClubRole {
    /// Runs the club; exactly one.
    Owner,
    /// Helps run it: lets people in, removes members, runs games, pins notices.
    Manager,
    /// Plays and posts.
    Member,
}

impl ClubRole {
    /// The name clients see.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Manager => "manager",
            Self::Member => "member",
        }
    }

    /// Owners and managers run the club.
    pub fn runs_the_club(self) -> bool {
        matches!(self, Self::Owner | Self::Manager)
    }
}

/// A club's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Club {
    club_id: Option<Uuid>,
    name: String,
    description: String,
    join_policy: Option<JoinPolicy>,
    room_id: Option<Uuid>,
    members: BTreeMap<Uuid, ClubRole>,
    pending: BTreeSet<Uuid>,
}

/// Why a club command was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ClubError {
    /// No such club.
    #[error("club not found")]
    NotFound,
    /// The id is taken.
    #[error("club exists already")]
    Exists,
    /// Only the named roles may do this.
    #[error("only {0} may do this")]
    NotAllowed(&'static str),
    /// The person is not a member (or has no pending request).
    #[error("no such member or request")]
    MemberNotFound,
    /// The owner must hand the club over before leaving.
    #[error("the owner hands the club over before leaving")]
    OwnerMustHandOver,
    /// Changing one's own role, or making a second owner some other way.
    #[error("that role change is not possible")]
    BadRoleChange,
    /// The club is full.
    #[error("a club has at most {} members", Club::MAX_MEMBERS)]
    Full,
}

impl Rejection for ClubError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NotFound | Self::MemberNotFound => ErrorKind::NotFound,
            Self::Exists | Self::OwnerMustHandOver | Self::Full => ErrorKind::Conflict,
            Self::NotAllowed(_) => ErrorKind::Forbidden,
            Self::BadRoleChange => ErrorKind::Invalid,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound => "club_not_found",
            Self::Exists => "club_exists",
            Self::NotAllowed(_) => "not_allowed",
            Self::MemberNotFound => "member_not_found",
            Self::OwnerMustHandOver => "owner_must_hand_over",
            Self::BadRoleChange => "bad_role_change",
            Self::Full => "club_full",
        }
    }
}

impl Club {
    /// The most members a club holds (its room holds them all).
    pub const MAX_MEMBERS: usize = crate::chat::ChatRoom::MAX_MEMBERS;

    /// A member's role, if they are one.
    pub fn role(&self, user_id: Uuid) -> Option<ClubRole> {
        self.members.get(&user_id).copied()
    }

    /// The club's chat room.
    pub fn room_id(&self) -> Option<Uuid> {
        self.room_id
    }

    /// Whether the club exists.
    pub fn exists(&self) -> bool {
        self.club_id.is_some()
    }

    /// The club, when `by` runs it (owner or manager); outsiders are told it does not exist.
    fn runner(&self, by: Uuid) -> Result<(Uuid, ClubRole), ClubError> {
        let club_id = self.club_id.ok_or(ClubError::NotFound)?;
        match self.role(by) {
            None => Err(ClubError::NotFound),
            Some(role) if role.runs_the_club() => Ok((club_id, role)),
            Some(_) => Err(ClubError::NotAllowed("the owner or managers")),
        }
    }

    fn update(
        &self,
        club_id: Uuid,
        by: Uuid,
        patch: ClubPatch,
    ) -> Result<Vec<ClubEvent>, ClubError> {
        let updated = ClubUpdated {
            club_id,
            name: patch
                .name
                .map_or_else(|| self.name.clone(), |n| n.as_str().to_owned()),
            description: patch
                .description
                .map_or_else(|| self.description.clone(), |d| d.as_str().to_owned()),
            join_policy: patch
                .join_policy
                .or(self.join_policy)
                .unwrap_or(JoinPolicy::Open),
            by,
        };
        let unchanged = updated.name == self.name
            && updated.description == self.description
            && Some(updated.join_policy) == self.join_policy;
        Ok(if unchanged {
            Vec::new()
        } else {
            vec![ClubEvent::ClubUpdated(updated)]
        })
    }

    fn remove(
        &self,
        by: Uuid,
        user_id: Uuid,
        services: &dyn Services,
    ) -> Result<Vec<ClubEvent>, ClubError> {
        let club_id = self.club_id.ok_or(ClubError::NotFound)?;
        let actor = self.role(by).ok_or(ClubError::NotFound)?;
        let leaving = self.role(user_id).ok_or(ClubError::MemberNotFound)?;
        if leaving == ClubRole::Owner {
            return Err(ClubError::OwnerMustHandOver);
        }
        if by != user_id {
            let may = match actor {
                ClubRole::Owner => true,
                ClubRole::Manager => leaving == ClubRole::Member,
                ClubRole::Member => false,
            };
            if !may {
                return Err(ClubError::NotAllowed("the owner or managers"));
            }
        }
        Ok(vec![ClubEvent::ClubMemberLeft(ClubMemberLeft {
            club_id,
            user_id,
            by,
            at: services.now(),
        })])
    }

    /// `user_id` becomes a member, let in by `by`, unless the club is full.
    fn admit(
        &self,
        club_id: Uuid,
        user_id: Uuid,
        by: Uuid,
        services: &dyn Services,
    ) -> Result<Vec<ClubEvent>, ClubError> {
        if self.members.len() >= Self::MAX_MEMBERS {
            return Err(ClubError::Full);
        }
        Ok(vec![ClubEvent::ClubMemberJoined(ClubMemberJoined {
            club_id,
            user_id,
            role: ClubRole::Member,
            by,
            at: services.now(),
        })])
    }

    fn set_role(
        &self,
        by: Uuid,
        user_id: Uuid,
        role: ClubRole,
    ) -> Result<Vec<ClubEvent>, ClubError> {
        let club_id = self.club_id.ok_or(ClubError::NotFound)?;
        match self.role(by) {
            None => return Err(ClubError::NotFound),
            Some(ClubRole::Owner) => {}
            Some(_) => return Err(ClubError::NotAllowed("the owner")),
        }
        let current = self.role(user_id).ok_or(ClubError::MemberNotFound)?;
        if by == user_id {
            return Err(ClubError::BadRoleChange);
        }
        if current == role {
            return Ok(Vec::new());
        }
        let mut events = vec![ClubEvent::ClubRoleChanged(ClubRoleChanged {
            club_id,
            user_id,
            role,
            by,
        })];
        if role == ClubRole::Owner {
            events.push(ClubEvent::ClubRoleChanged(ClubRoleChanged {
                club_id,
                user_id: by,
                role: ClubRole::Manager,
                by,
            }));
        }
        Ok(events)
    }
}

impl Aggregate for Club {
    const TYPE: &'static str = "club";
    const SNAPSHOT_EVERY: Option<u64> = Some(100);
    type Command = ClubCommand;
    type Event = ClubEvent;
    type Error = ClubError;

    fn handle(
        &self,
        command: ClubCommand,
        services: &dyn Services,
    ) -> Result<Vec<ClubEvent>, ClubError> {
        if let ClubCommand::Create {
            club_id,
            name,
            description,
            join_policy,
            owner_id,
            room_id,
        } = command
        {
            if self.club_id.is_some() {
                return Err(ClubError::Exists);
            }
            return Ok(vec![ClubEvent::ClubCreated(ClubCreated {
                club_id,
                name: name.as_str().to_owned(),
                description: description.as_str().to_owned(),
                join_policy,
                owner_id,
                room_id,
                created_at: services.now(),
            })]);
        }
        let club_id = self.club_id.ok_or(ClubError::NotFound)?;
        match command {
            ClubCommand::Create { .. } => Err(ClubError::Exists),
            ClubCommand::Update { by, patch } => {
                self.runner(by)?;
                self.update(club_id, by, patch)
            }
            ClubCommand::Join { user_id } => {
                if self.members.contains_key(&user_id) || self.pending.contains(&user_id) {
                    return Ok(Vec::new());
                }
                if self.members.len() >= Self::MAX_MEMBERS {
                    return Err(ClubError::Full);
                }
                let at = services.now();
                Ok(vec![match self.join_policy {
                    Some(JoinPolicy::Approval) => ClubEvent::JoinRequested(JoinRequested {
                        club_id,
                        user_id,
                        at,
                    }),
                    _ => ClubEvent::ClubMemberJoined(ClubMemberJoined {
                        club_id,
                        user_id,
                        role: ClubRole::Member,
                        by: user_id,
                        at,
                    }),
                }])
            }
            ClubCommand::Add { by, user_id } => {
                self.runner(by)?;
                if self.members.contains_key(&user_id) {
                    return Ok(Vec::new());
                }
                self.admit(club_id, user_id, by, services)
            }
            ClubCommand::Decide {
                by,
                user_id,
                approve,
            } => {
                self.runner(by)?;
                if !self.pending.contains(&user_id) {
                    return Err(ClubError::MemberNotFound);
                }
                if !approve {
                    return Ok(vec![ClubEvent::JoinRejected(JoinRejected {
                        club_id,
                        user_id,
                        by,
                    })]);
                }
                self.admit(club_id, user_id, by, services)
            }
            ClubCommand::SetRole { by, user_id, role } => self.set_role(by, user_id, role),
            ClubCommand::Remove { by, user_id } => self.remove(by, user_id, services),
        }
    }

    fn apply(&mut self, event: ClubEvent) {
        match event {
            ClubEvent::ClubCreated(e) => {
                self.club_id = Some(e.club_id);
                self.name = e.name;
                self.description = e.description;
                self.join_policy = Some(e.join_policy);
                self.room_id = Some(e.room_id);
                self.members.insert(e.owner_id, ClubRole::Owner);
            }
            ClubEvent::ClubUpdated(e) => {
                self.name = e.name;
                self.description = e.description;
                self.join_policy = Some(e.join_policy);
            }
            ClubEvent::JoinRequested(e) => {
                self.pending.insert(e.user_id);
            }
            ClubEvent::JoinRejected(e) => {
                self.pending.remove(&e.user_id);
            }
            ClubEvent::ClubMemberJoined(e) => {
                self.pending.remove(&e.user_id);
                self.members.insert(e.user_id, e.role);
            }
            ClubEvent::ClubRoleChanged(e) => {
                self.members.insert(e.user_id, e.role);
            }
            ClubEvent::ClubMemberLeft(e) => {
                self.members.remove(&e.user_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{given, FixedServices};
    use crate::values::{ClubDescription, ClubName};

    const CLUB: Uuid = Uuid::from_u128(7);
    const ROOM: Uuid = Uuid::from_u128(8);
    const KIM: Uuid = Uuid::from_u128(1);
    const LEE: Uuid = Uuid::from_u128(2);
    const PARK: Uuid = Uuid::from_u128(3);
    const CHOI: Uuid = Uuid::from_u128(4);

    fn created(policy: JoinPolicy) -> ClubEvent {
        ClubEvent::ClubCreated(ClubCreated {
            club_id: CLUB,
            name: "Sunday shuttles".into(),
            description: "badminton".into(),
            join_policy: policy,
            owner_id: KIM,
            room_id: ROOM,
            created_at: FixedServices::new().now,
        })
    }

    fn joined(user_id: Uuid, by: Uuid) -> ClubEvent {
        ClubEvent::ClubMemberJoined(ClubMemberJoined {
            club_id: CLUB,
            user_id,
            role: ClubRole::Member,
            by,
            at: FixedServices::new().now,
        })
    }

    fn role(user_id: Uuid, role: ClubRole, by: Uuid) -> ClubEvent {
        ClubEvent::ClubRoleChanged(ClubRoleChanged {
            club_id: CLUB,
            user_id,
            role,
            by,
        })
    }

    fn left(user_id: Uuid, by: Uuid) -> ClubEvent {
        ClubEvent::ClubMemberLeft(ClubMemberLeft {
            club_id: CLUB,
            user_id,
            by,
            at: FixedServices::new().now,
        })
    }

    #[test]
    fn the_founder_owns_the_club() {
        let club = given::<Club>([])
            .when(ClubCommand::Create {
                club_id: CLUB,
                name: ClubName::parse("Sunday shuttles").unwrap(),
                description: ClubDescription::parse("badminton").unwrap(),
                join_policy: JoinPolicy::Open,
                owner_id: KIM,
                room_id: ROOM,
            })
            .then_expect_events(vec![created(JoinPolicy::Open)]);
        assert_eq!(club.role(KIM), Some(ClubRole::Owner));
        assert_eq!(club.room_id(), Some(ROOM));
    }

    #[test]
    fn an_open_club_lets_anyone_in_once() {
        given::<Club>([created(JoinPolicy::Open)])
            .when(ClubCommand::Join { user_id: LEE })
            .then_expect_events(vec![joined(LEE, LEE)]);
        given::<Club>([created(JoinPolicy::Open), joined(LEE, LEE)])
            .when(ClubCommand::Join { user_id: LEE })
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_approval_club_queues_requests_for_its_runners() {
        let asked = ClubEvent::JoinRequested(JoinRequested {
            club_id: CLUB,
            user_id: LEE,
            at: FixedServices::new().now,
        });
        given::<Club>([created(JoinPolicy::Approval)])
            .when(ClubCommand::Join { user_id: LEE })
            .then_expect_events(vec![asked.clone()]);
        given::<Club>([created(JoinPolicy::Approval), asked.clone()])
            .when(ClubCommand::Join { user_id: LEE })
            .then_expect_events(vec![]);
        let club = given::<Club>([created(JoinPolicy::Approval), asked.clone()])
            .when(ClubCommand::Decide {
                by: KIM,
                user_id: LEE,
                approve: true,
            })
            .then_expect_events(vec![joined(LEE, KIM)]);
        assert_eq!(club.role(LEE), Some(ClubRole::Member));
        given::<Club>([created(JoinPolicy::Approval), asked.clone()])
            .when(ClubCommand::Decide {
                by: KIM,
                user_id: LEE,
                approve: false,
            })
            .then_expect_events(vec![ClubEvent::JoinRejected(JoinRejected {
                club_id: CLUB,
                user_id: LEE,
                by: KIM,
            })]);
        given::<Club>([created(JoinPolicy::Approval), asked, joined(PARK, KIM)])
            .when(ClubCommand::Decide {
                by: PARK,
                user_id: LEE,
                approve: true,
            })
            .then_expect_error("not_allowed");
        given::<Club>([created(JoinPolicy::Approval)])
            .when(ClubCommand::Decide {
                by: CHOI,
                user_id: LEE,
                approve: true,
            })
            .then_expect_error("club_not_found");
    }

    #[test]
    fn a_runner_adds_someone_directly_once_and_members_cannot() {
        let asked = ClubEvent::JoinRequested(JoinRequested {
            club_id: CLUB,
            user_id: LEE,
            at: FixedServices::new().now,
        });
        let club = given::<Club>([created(JoinPolicy::Approval), asked])
            .when(ClubCommand::Add {
                by: KIM,
                user_id: LEE,
            })
            .then_expect_events(vec![joined(LEE, KIM)]);
        assert_eq!(club.role(LEE), Some(ClubRole::Member));
        given::<Club>([created(JoinPolicy::Approval), joined(LEE, KIM)])
            .when(ClubCommand::Add {
                by: KIM,
                user_id: LEE,
            })
            .then_expect_events(vec![]);
        given::<Club>([created(JoinPolicy::Open), joined(LEE, LEE)])
            .when(ClubCommand::Add {
                by: LEE,
                user_id: Uuid::from_u128(99),
            })
            .then_expect_error("not_allowed");
    }

    #[test]
    fn the_owner_hands_over_and_only_then_may_leave() {
        let base = || [created(JoinPolicy::Open), joined(LEE, LEE)];
        given::<Club>(base())
            .when(ClubCommand::Remove {
                by: KIM,
                user_id: KIM,
            })
            .then_expect_error("owner_must_hand_over");
        let club = given::<Club>(base())
            .when(ClubCommand::SetRole {
                by: KIM,
                user_id: LEE,
                role: ClubRole::Owner,
            })
            .then_expect_events(vec![
                role(LEE, ClubRole::Owner, KIM),
                role(KIM, ClubRole::Manager, KIM),
            ]);
        assert_eq!(club.role(KIM), Some(ClubRole::Manager));
        let [a, b] = base();
        given::<Club>([
            a,
            b,
            role(LEE, ClubRole::Owner, KIM),
            role(KIM, ClubRole::Manager, KIM),
        ])
        .when(ClubCommand::Remove {
            by: KIM,
            user_id: KIM,
        })
        .then_expect_events(vec![left(KIM, KIM)]);
        given::<Club>(base())
            .when(ClubCommand::SetRole {
                by: LEE,
                user_id: KIM,
                role: ClubRole::Member,
            })
            .then_expect_error("not_allowed");
    }

    #[test]
    fn managers_remove_members_but_not_each_other() {
        let base = || {
            vec![
                created(JoinPolicy::Open),
                joined(LEE, LEE),
                joined(PARK, PARK),
                joined(CHOI, CHOI),
                role(LEE, ClubRole::Manager, KIM),
                role(PARK, ClubRole::Manager, KIM),
            ]
        };
        given::<Club>(base())
            .when(ClubCommand::Remove {
                by: LEE,
                user_id: CHOI,
            })
            .then_expect_events(vec![left(CHOI, LEE)]);
        given::<Club>(base())
            .when(ClubCommand::Remove {
                by: LEE,
                user_id: PARK,
            })
            .then_expect_error("not_allowed");
        given::<Club>(base())
            .when(ClubCommand::Remove {
                by: CHOI,
                user_id: LEE,
            })
            .then_expect_error("not_allowed");
        given::<Club>(base())
            .when(ClubCommand::Remove {
                by: KIM,
                user_id: PARK,
            })
            .then_expect_events(vec![left(PARK, KIM)]);
        given::<Club>(base())
            .when(ClubCommand::Update {
                by: CHOI,
                patch: ClubPatch::default(),
            })
            .then_expect_error("not_allowed");
    }
}
