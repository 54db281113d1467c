//! `/api/v1/admin/users`: searching and viewing accounts, disabling and enabling them,
//! changing roles and ending sessions (admin only). Personal fields come from
//! [`Accounts::user`](crate::accounts::Accounts::user), which owns how they are stored; the
//! email search uses the blind index, never the column.

use crate::http::AdminAuth;
use poem::Request;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::paging::{PageInfo, Paging};
use super::store::{self, AdminFacts, RoleCheck, Status, UserFilter};
use crate::accounts::queue_user_event;
use crate::admin::AdminState;
use crate::audit::{self, AuditEvent, actions};
use crate::clock::rfc3339;
use crate::contact::email;
use crate::db::DbError;
use crate::db::conn::AsConn;
use crate::error::{ApiError, FieldError};
use crate::http::StrictJson;
use crate::http::request_meta;
use crate::http::tags::ApiTags;
use crate::identity::Role;
use crate::pii::DeleteReason;
use crate::sessions::Sessions;
use crate::webhooks::EventType;
use serde_json::json;

/// An account as admins see it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct AdminUser {
    id: String,
    email: Option<String>,
    phone: Option<String>,
    display_name: String,
    /// `user`, `reviewer` or `admin`.
    role: String,
    campus_id: Option<i64>,
    campus_name: Option<String>,
    email_verified: bool,
    phone_verified: bool,
    created_at: String,
    /// `active`, `disabled`, `locked` or `unverified`.
    status: String,
    /// Set when the account is disabled.
    disabled_at: Option<String>,
    /// Set while a lockout pause lasts.
    locked_until: Option<String>,
    /// Consecutive failed passwords.
    failed_logins: i64,
    /// Live browser sessions.
    sessions: i64,
}

/// One page of accounts.
#[derive(Object)]
pub struct UserPage {
    items: Vec<AdminUser>,
    #[oai(flatten)]
    page: PageInfo,
}

#[derive(Object)]
pub struct RoleChange {
    /// `user`, `reviewer` or `admin`.
    role: String,
}

/// What ending an account's sessions did.
#[derive(Object)]
pub struct Revoked {
    /// Browser sessions ended.
    sessions: usize,
    /// API token families (access and refresh tokens) revoked.
    token_families: usize,
}

#[derive(ApiResponse)]
pub enum UserDeleted {
    /// The account and its personal data are deleted; its sessions and tokens have ended.
    #[oai(status = 204)]
    Deleted,
}

pub struct AccountsAdminApi {
    pub state: AdminState,
}

#[OpenApi(prefix_path = "/api/v1/admin/users", tag = "ApiTags::Admin")]
impl AccountsAdminApi {
    /// Search accounts.
    ///
    /// Filters combine: `email` (exact, any case), `role`, `status` (`active`, `disabled`,
    /// `locked`, `unverified`) and `campus_id`. Newest first. A page past the end is empty.
    #[oai(path = "/", method = "get", operation_id = "list_users")]
    #[allow(clippy::too_many_arguments)]
    async fn list(
        &self,
        _auth: AdminAuth,
        email: Query<Option<String>>,
        role: Query<Option<String>>,
        status: Query<Option<String>>,
        campus_id: Query<Option<i64>>,
        page: Query<Option<u32>>,
        per_page: Query<Option<u32>>,
    ) -> Result<Json<UserPage>, ApiError> {
        let paging = Paging::new(page.0, per_page.0)?;
        let mut errors = Vec::new();
        if let Some(role) = &role.0
            && role.parse::<Role>().is_err()
        {
            errors.push(field("role", "must be user, reviewer or admin"));
        }
        let status = match status.0.as_deref().map(str::parse::<Status>) {
            Some(Err(())) => {
                errors.push(field("status", "must be active, disabled, locked or unverified"));
                None
            }
            Some(Ok(status)) => Some(status),
            None => None,
        };
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        let filter = UserFilter {
            email_index: email.0.map(|e| self.state.accounts.email_index(&email::normalize(&e))),
            role: role.0,
            status,
            campus_id: campus_id.0,
        };
        let now = self.state.clock.unix();
        let (ids, total) = self
            .state
            .db
            .run_conn(move |c| {
                store::search(c, &filter, now, paging.limit(), paging.offset())
                    .map_err(DbError::from)
            })
            .await?;
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(user) = view(&self.state, &id).await? {
                items.push(user);
            }
        }
        Ok(Json(UserPage { items, page: paging.info(total) }))
    }

    /// Delete an account and its personal data.
    ///
    /// As `DELETE /api/v1/account`, without the password. `404 user_not_found` for an unknown
    /// id, `410 account_deleted` for an account deleted already, `409 cannot_delete_self` for
    /// the caller's own account (that is `DELETE /api/v1/account`, with the password).
    #[oai(path = "/:id", method = "delete", operation_id = "delete_user")]
    async fn delete(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<UserDeleted, ApiError> {
        let admin = auth.principal();
        if admin.user_id == id.0 {
            return Err(ApiError::conflict(
                "cannot_delete_self",
                "Admins delete their own account from the account page, with their password.",
            ));
        }
        let (reason, meta) = (DeleteReason::Admin, request_meta(req));
        self.state.erasure.erase(&id.0, reason, Some(&admin.user_id), &meta).await?;
        Ok(UserDeleted::Deleted)
    }

    /// View an account.
    #[oai(path = "/:id", method = "get", operation_id = "get_user")]
    async fn get(&self, _auth: AdminAuth, id: Path<String>) -> Result<Json<AdminUser>, ApiError> {
        Ok(Json(view(&self.state, &id.0).await?.ok_or_else(no_such_user)?))
    }

    /// Disable an account.
    ///
    /// It can no longer sign in; its sessions end and its API tokens are revoked at once.
    /// The last enabled admin cannot be disabled, nor can admins disable themselves.
    #[oai(path = "/:id/disable", method = "post", operation_id = "disable_user")]
    async fn disable(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<AdminUser>, ApiError> {
        let admin = auth.principal().user_id.clone();
        if admin == id.0 {
            return Err(ApiError::conflict("cannot_disable_self", "You cannot disable yourself."));
        }
        let (ip, now, user_id) = (request_meta(req).ip, self.state.clock.unix(), id.0.clone());
        let ended = self
            .state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                if role_before_change(&tx, &user_id)?.is_last_admin() {
                    return Err(last_admin());
                }
                let changed =
                    store::set_disabled(&tx, &user_id, Some(now)).map_err(DbError::from)?;
                let ended = Sessions::end_all_in(&tx, &user_id, None, now, "disabled")?;
                if changed {
                    queue_user_event(&tx, EventType::UserDisabled, &user_id, json!({}), now)?;
                    let event = AuditEvent {
                        actor_id: Some(&admin),
                        ..AuditEvent::by_user(
                            now,
                            &user_id,
                            actions::ACCOUNT_DISABLED,
                            ip.as_deref(),
                        )
                    }
                    .with_details(serde_json::json!({
                        "sessions_ended": ended.sessions.len(),
                        "token_families_revoked": ended.families.len(),
                    }));
                    audit::record(&tx, &event)?;
                }
                tx.commit().map_err(DbError::from)?;
                Ok::<_, ApiError>(ended)
            })
            .await?;
        self.state.accounts.forget_signed_out(&id.0, &ended).await;
        Ok(Json(view(&self.state, &id.0).await?.ok_or_else(no_such_user)?))
    }

    /// Enable a disabled account.
    #[oai(path = "/:id/enable", method = "post", operation_id = "enable_user")]
    async fn enable(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<AdminUser>, ApiError> {
        let admin = auth.principal().user_id.clone();
        let (ip, now, user_id) = (request_meta(req).ip, self.state.clock.unix(), id.0.clone());
        self.state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                role_of(&tx, &user_id)?;
                if store::set_disabled(&tx, &user_id, None).map_err(DbError::from)? {
                    queue_user_event(&tx, EventType::UserEnabled, &user_id, json!({}), now)?;
                    let event = AuditEvent {
                        actor_id: Some(&admin),
                        ..AuditEvent::by_user(
                            now,
                            &user_id,
                            actions::ACCOUNT_ENABLED,
                            ip.as_deref(),
                        )
                    };
                    audit::record(&tx, &event)?;
                }
                tx.commit().map_err(DbError::from)?;
                Ok::<_, ApiError>(())
            })
            .await?;
        self.state.accounts.forget_user(&id.0);
        Ok(Json(view(&self.state, &id.0).await?.ok_or_else(no_such_user)?))
    }

    /// Change an account's role.
    ///
    /// The account's sessions end and its API tokens are revoked, so the new role applies at
    /// once. The last enabled admin cannot be demoted.
    #[oai(path = "/:id/role", method = "put", operation_id = "set_user_role")]
    async fn set_role(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
        body: StrictJson<RoleChange>,
    ) -> Result<Json<AdminUser>, ApiError> {
        let admin = auth.principal().user_id.clone();
        let new_role = body.0.role.parse::<Role>().map_err(|_| {
            ApiError::validation(vec![field("role", "must be user, reviewer or admin")])
        })?;
        let (ip, now, user_id) = (request_meta(req).ip, self.state.clock.unix(), id.0.clone());
        let ended = self
            .state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                let check = role_before_change(&tx, &user_id)?;
                if check.role == new_role.as_str() {
                    return Ok(crate::sessions::Ended::default());
                }
                if check.is_last_admin() {
                    return Err(last_admin());
                }
                let old = check.role;
                crate::accounts::set_role(&tx, &user_id, new_role.as_str())?;
                let change = json!({"changed": ["role"], "role": new_role.as_str()});
                queue_user_event(&tx, EventType::UserUpdated, &user_id, change, now)?;
                let ended = Sessions::end_all_in(&tx, &user_id, None, now, "role_changed")?;
                let event = AuditEvent {
                    actor_id: Some(&admin),
                    ..AuditEvent::by_user(now, &user_id, actions::ROLE_CHANGED, ip.as_deref())
                }
                .with_details(serde_json::json!({"from": old, "to": new_role.as_str()}));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, ApiError>(ended)
            })
            .await?;
        self.state.accounts.forget_signed_out(&id.0, &ended).await;
        Ok(Json(view(&self.state, &id.0).await?.ok_or_else(no_such_user)?))
    }

    /// End every session of an account and revoke its API tokens.
    #[oai(path = "/:id/sessions", method = "delete", operation_id = "revoke_user_sessions")]
    async fn revoke_sessions(
        &self,
        req: &Request,
        auth: AdminAuth,
        id: Path<String>,
    ) -> Result<Json<Revoked>, ApiError> {
        let admin = auth.principal().user_id.clone();
        let (ip, now, user_id) = (request_meta(req).ip, self.state.clock.unix(), id.0.clone());
        let ended = self
            .state
            .db
            .run_conn(move |conn| {
                let tx = conn.transaction().map_err(DbError::from)?;
                role_of(&tx, &user_id)?;
                let ended = Sessions::end_all_in(&tx, &user_id, None, now, "admin")?;
                let event = AuditEvent {
                    actor_id: Some(&admin),
                    ..AuditEvent::by_user(now, &user_id, actions::SESSIONS_REVOKED, ip.as_deref())
                }
                .with_details(serde_json::json!({
                    "by": "admin",
                    "sessions_ended": ended.sessions.len(),
                    "token_families_revoked": ended.families.len(),
                }));
                audit::record(&tx, &event)?;
                tx.commit().map_err(DbError::from)?;
                Ok::<_, ApiError>(ended)
            })
            .await?;
        let counts =
            Revoked { sessions: ended.sessions.len(), token_families: ended.families.len() };
        self.state.accounts.forget_signed_out(&id.0, &ended).await;
        Ok(Json(counts))
    }
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError { field: name.into(), message: message.into() }
}

fn no_such_user() -> ApiError {
    ApiError::not_found("user_not_found", "There is no such account.")
}

fn last_admin() -> ApiError {
    ApiError::conflict(
        "last_admin",
        "This is the last enabled admin: promote another account to admin first.",
    )
}

fn role_of(conn: &impl AsConn, user_id: &str) -> Result<String, ApiError> {
    store::role_of(conn, user_id).map_err(DbError::from)?.ok_or_else(no_such_user)
}

/// The account's role and whether it is the last enabled admin, after taking the admins'
/// turn (see [`store::role_before_change`]).
fn role_before_change(conn: &impl AsConn, user_id: &str) -> Result<RoleCheck, ApiError> {
    store::role_before_change(conn, user_id).map_err(DbError::from)?.ok_or_else(no_such_user)
}

async fn view(state: &AdminState, user_id: &str) -> Result<Option<AdminUser>, ApiError> {
    let Some(user) = state.accounts.user(user_id).await? else { return Ok(None) };
    let id = user_id.to_string();
    let facts: Option<AdminFacts> =
        state.db.run_conn(move |c| store::facts(c, &id).map_err(DbError::from)).await?;
    let Some(facts) = facts else { return Ok(None) };
    let now = state.clock.unix();
    let locked = facts.locked_until.filter(|until| *until > now);
    let verified = user.email_verified_at.is_some() || user.phone_verified_at.is_some();
    let status = match (facts.disabled_at, locked, verified) {
        (Some(_), _, _) => "disabled",
        (None, Some(_), _) => "locked",
        (None, None, false) => "unverified",
        (None, None, true) => "active",
    };
    Ok(Some(AdminUser {
        id: user.id.clone(),
        email: user.email.clone(),
        phone: user.phone.clone(),
        display_name: user.display_name.clone(),
        role: user.role.clone(),
        campus_id: user.campus_id,
        campus_name: user.campus_name.clone(),
        email_verified: user.email_verified_at.is_some(),
        phone_verified: user.phone_verified_at.is_some(),
        created_at: rfc3339(user.created_at),
        status: status.into(),
        disabled_at: facts.disabled_at.map(rfc3339),
        locked_until: locked.map(rfc3339),
        failed_logins: facts.failed_logins,
        sessions: facts.sessions,
    }))
}
