//! `/api/v1/driver` (the signed-in driver's own state, licence upload, enable, availability)
//! and `/api/v1/admin/driver-reviews` (the review queue for reviewers and admins).

use crate::http::ReviewerAuth;
use chrono::NaiveDate;
use poem::Request;
use poem_openapi::param::Path;
use poem_openapi::payload::{Binary, Json};
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi, ResponseContent};

use super::image_kind::ImageKind;
use super::reviews::Review;
use super::service::Snapshot;
use super::store::Licence;
use super::uploads::ImageError;
use super::{DriverError, expiry};
use crate::clock::rfc3339;
use crate::error::ApiError;
use crate::http::StrictJson;
use crate::http::auth::Auth;
use crate::http::request_meta;
use crate::http::tags::ApiTags;

/// What the driver API uses (built by the route table).
#[derive(Clone)]
pub struct DriversState {
    pub config: std::sync::Arc<crate::config::Config>,
    pub drivers: std::sync::Arc<super::Drivers>,
}

/// What was read from a licence, and where it stands.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct LicenceView {
    id: i64,
    /// `pending_review`, `approved`, `rejected` or `superseded`.
    status: String,
    /// Where the fields were read: `barcode`, `ocr` or `none`.
    source: String,
    family_name: Option<String>,
    given_names: Option<String>,
    licence_number: Option<String>,
    /// YYYY-MM-DD; the licence is not valid from this day on.
    expiry_date: Option<String>,
    birth_date: Option<String>,
    issuer: Option<String>,
    /// Name match against the profile's legal name, 0 to 1.
    name_score: Option<f64>,
    /// Why a reviewer has to look at it (empty when every check passed).
    review_notes: Vec<String>,
    /// The reviewer's reason, for a rejected licence.
    decision_reason: Option<String>,
    /// The front's printed fields compared with the barcode.
    front_check: FrontCheckView,
    uploaded_at: String,
}

/// How the front's printed licence number, expiry and name (read by OCR) compare with the
/// barcode's. A barcode is not signed: a disagreement may be a reprinted back.
#[derive(Object)]
pub struct FrontCheckView {
    /// `agrees`, `disagrees` (see `mismatched`), `unreadable` (the front could not be read
    /// well enough), `not_available` (no OCR; or uploaded before the comparison existed) or
    /// `no_barcode` (the fields came from the front: nothing to compare).
    result: String,
    /// The fields that differ: `licence_number`, `expiry_date`, `name`.
    mismatched: Vec<String>,
}

fn date(d: Option<NaiveDate>) -> Option<String> {
    d.map(|d| d.format("%Y-%m-%d").to_string())
}

impl From<Licence> for LicenceView {
    fn from(l: Licence) -> Self {
        Self {
            id: l.id,
            status: l.status,
            source: l.source,
            family_name: l.fields.family_name,
            given_names: l.fields.given_names,
            licence_number: l.fields.licence_number,
            expiry_date: date(l.fields.expiry),
            birth_date: date(l.fields.birth_date),
            issuer: l.fields.issuer,
            name_score: l.name_score,
            review_notes: l.review_notes.lines().map(str::to_string).collect(),
            decision_reason: l.decision_reason,
            front_check: FrontCheckView { result: l.front_check, mismatched: l.front_mismatches },
            uploaded_at: rfc3339(l.created_at),
        }
    }
}

/// A driver's state.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct DriverView {
    /// `none`, `pending_review`, `approved`, `rejected` or `suspended`.
    status: String,
    /// Why the driver was rejected or suspended.
    reason: Option<String>,
    /// Driving switched on (`POST /driver/enable`).
    enabled: bool,
    /// Available for rides now (never while the licence is expired).
    available: bool,
    /// Approved with a licence valid today.
    can_drive: bool,
    /// The expiry of the licence that makes the driver approved (YYYY-MM-DD).
    expiry_date: Option<String>,
    /// Days until that expiry (0 or less: expired).
    days_left: Option<i64>,
    /// When a new licence may be uploaded, if not yet (YYYY-MM-DD).
    upload_from: Option<String>,
    /// Notices for the driver, e.g. an upcoming expiry.
    alerts: Vec<String>,
    /// The approved licence.
    licence: Option<LicenceView>,
    /// A licence waiting for a reviewer.
    pending_licence: Option<LicenceView>,
    /// The latest rejected licence, when nothing newer is waiting.
    rejected_licence: Option<LicenceView>,
}

impl From<Snapshot> for DriverView {
    fn from(s: Snapshot) -> Self {
        let expiry = s.current.as_ref().and_then(|l| l.fields.expiry);
        let days_left = expiry.map(|e| (e - s.today).num_days());
        let mut alerts = Vec::new();
        if let Some(days) = days_left
            && s.profile.status.as_str() == "approved"
            && s.pending.is_none()
            && (1..=expiry::ALERT_DAYS[0]).contains(&days)
        {
            alerts.push(format!(
                "Your licence expires in {days} day(s): upload the new one to keep driving."
            ));
        }
        match (s.profile.status.as_str(), &s.pending, expiry) {
            ("approved", Some(_), Some(expiry)) => alerts.push(format!(
                "Your new licence is waiting for a reviewer; you keep driving on the current one \
                 until {expiry}."
            )),
            ("suspended", Some(_), _) => alerts
                .push("Driving is suspended: your new licence is waiting for a reviewer.".into()),
            ("suspended", None, _) => {
                alerts.push("Driving is suspended: upload a valid licence.".into())
            }
            _ => {}
        }
        Self {
            status: s.profile.status.as_str().into(),
            reason: s.profile.reason.clone(),
            enabled: s.profile.enabled,
            // Between the expiry day and the job's run the stored flag may still be on.
            available: s.profile.available && s.can_drive(),
            can_drive: s.can_drive(),
            expiry_date: date(expiry),
            days_left,
            upload_from: date(s.upload_from()),
            alerts,
            licence: s.current.map(Into::into),
            pending_licence: s.pending.map(Into::into),
            rejected_licence: s.rejected.map(Into::into),
        }
    }
}

/// Both sides of a driving licence, as JPEG or PNG (by content; at most 10 MB each by
/// default).
#[derive(Multipart)]
pub struct LicenceUpload {
    front: Upload,
    back: Upload,
}

#[derive(Object)]
pub struct Availability {
    available: bool,
}

#[derive(ApiResponse)]
pub enum Uploaded {
    /// Stored and read: the state says whether it waits for a reviewer or was approved.
    #[oai(status = 201)]
    Created(Json<DriverView>),
}

pub struct DriverApi {
    pub state: DriversState,
}

#[OpenApi(prefix_path = "/api/v1/driver", tag = "ApiTags::Driver")]
impl DriverApi {
    /// The caller's driver state: verification status, licence expiry, availability, alerts.
    #[oai(path = "/", method = "get", operation_id = "get_driver")]
    async fn get(&self, auth: Auth) -> Result<Json<DriverView>, ApiError> {
        let snapshot = self.state.drivers.snapshot(&auth.principal().user_id).await?;
        Ok(Json(snapshot.into()))
    }

    /// Upload a driving licence (multipart `front` and `back` images). The back's barcode is
    /// read and the front by OCR, compared with the barcode (or in its place). Every licence
    /// waits for a reviewer; a renewal passing every check with a front that agrees is
    /// approved at once only where the campus turned `driver.auto_approve_renewals` on. While
    /// a renewal waits, the current licence holds until it expires. Errors: `image_too_large`, `unsupported_image_type`,
    /// `image_unreadable`, `image_too_many_pixels`, `image_too_small` (422),
    /// `licence_expired` (422), `legal_name_required` (409), `renewal_too_early` (409),
    /// `email_not_verified` (403), `rate_limited` (429: at most 10 uploads an hour, whatever
    /// their outcome).
    #[oai(path = "/license", method = "post", operation_id = "upload_licence")]
    async fn upload(
        &self,
        req: &Request,
        auth: Auth,
        body: LicenceUpload,
    ) -> Result<Uploaded, ApiError> {
        self.state.drivers.count_upload(&auth.principal().user_id).await?;
        let max = self.state.config.driver.max_image_bytes;
        let mut sides = Vec::with_capacity(2);
        for (side, upload) in [("front", body.front), ("back", body.back)] {
            if upload.size() > max {
                return Err(DriverError::Image(ImageError::TooLarge { side, max }).into());
            }
            sides.push(upload.into_vec().await.map_err(ApiError::internal)?);
        }
        let back = sides.pop().unwrap_or_default();
        let front = sides.pop().unwrap_or_default();
        let ip = request_meta(req).ip;
        let snapshot =
            self.state.drivers.submit(&auth.principal().user_id, ip, front, back).await?;
        Ok(Uploaded::Created(Json(snapshot.into())))
    }

    /// Switch driving on. Only for approved drivers whose licence is valid; 10 requests an
    /// hour. Errors: `driver_not_approved` (409), `rate_limited` (429).
    #[oai(path = "/enable", method = "post", operation_id = "enable_driving")]
    async fn enable(&self, req: &Request, auth: Auth) -> Result<Json<DriverView>, ApiError> {
        let ip = request_meta(req).ip;
        let snapshot = self.state.drivers.enable(&auth.principal().user_id, ip).await?;
        Ok(Json(snapshot.into()))
    }

    /// Switch availability for rides on or off. Only for approved drivers whose licence is
    /// valid and who enabled driving; 10 requests an hour. Errors: `driver_not_approved`
    /// (409), `rate_limited` (429).
    #[oai(path = "/availability", method = "post", operation_id = "set_availability")]
    async fn availability(
        &self,
        req: &Request,
        auth: Auth,
        body: StrictJson<Availability>,
    ) -> Result<Json<DriverView>, ApiError> {
        let ip = request_meta(req).ip;
        let user = &auth.principal().user_id;
        let snapshot = self.state.drivers.set_availability(user, ip, body.0.available).await?;
        Ok(Json(snapshot.into()))
    }
}

/// A licence waiting for a decision, with the driver's names beside what was read.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct ReviewView {
    /// The review's id (the licence's).
    id: i64,
    user_id: String,
    display_name: String,
    /// The profile's legal name, compared with the licence.
    legal_name: Option<String>,
    email: Option<String>,
    /// The driver was approved before: this licence would replace `previous`.
    renewal: bool,
    licence: LicenceView,
    /// Authenticated links to the images (reviewers and admins only).
    front_image_url: String,
    back_image_url: String,
    /// Seconds since the upload.
    waiting_seconds: i64,
    /// For a renewal: the driver's current licence, to compare with (the photos too).
    previous: Option<PreviousLicenceView>,
    /// The fields that differ from the previous licence's: `family_name`, `given_names`,
    /// `licence_number`, `expiry_date`, `birth_date`, `issuer`.
    changes: Vec<String>,
}

/// The licence a renewal would replace.
#[derive(Object)]
pub struct PreviousLicenceView {
    licence: LicenceView,
    front_image_url: String,
    back_image_url: String,
}

fn image_url(id: i64, side: &str) -> String {
    format!("/api/v1/admin/driver-reviews/{id}/images/{side}")
}

impl From<Review> for ReviewView {
    fn from(r: Review) -> Self {
        let id = r.licence.id;
        Self {
            id,
            user_id: r.licence.user_id.clone(),
            display_name: r.display_name,
            legal_name: r.legal_name,
            email: r.email,
            renewal: r.renewal,
            licence: r.licence.into(),
            front_image_url: image_url(id, "front"),
            back_image_url: image_url(id, "back"),
            waiting_seconds: r.waiting_seconds,
            previous: r.previous.map(|p| PreviousLicenceView {
                front_image_url: image_url(p.id, "front"),
                back_image_url: image_url(p.id, "back"),
                licence: p.into(),
            }),
            changes: r.changes.into_iter().map(str::to_string).collect(),
        }
    }
}

/// An approval (`{}` when nothing is to add). `expiry_date` (YYYY-MM-DD) gives the expiry read from the images by the
/// reviewer when it could not be read automatically, or corrects it.
#[derive(Object)]
#[oai(skip_serializing_if_is_none)]
pub struct Approval {
    expiry_date: Option<String>,
}

#[derive(Object)]
pub struct Rejection {
    /// Shown to the driver; 1 to 500 characters.
    reason: String,
}

/// Common reasons for rejecting a licence (`driver.rejection_reasons`).
#[derive(Object)]
pub struct RejectionReasons {
    reasons: Vec<String>,
}

#[derive(ApiResponse)]
pub enum Decided {
    /// Decided; the driver's state changed accordingly.
    #[oai(status = 204)]
    Decided,
}

#[derive(ResponseContent)]
pub enum ImageBytes {
    #[oai(content_type = "image/jpeg")]
    Jpeg(Binary<Vec<u8>>),
    #[oai(content_type = "image/png")]
    Png(Binary<Vec<u8>>),
}

#[derive(ApiResponse)]
pub enum ImageResponse {
    /// The image as uploaded.
    #[oai(status = 200)]
    Image(ImageBytes, #[oai(header = "Cache-Control")] String),
}

pub struct DriverReviewsApi {
    pub state: DriversState,
}

#[OpenApi(prefix_path = "/api/v1/admin/driver-reviews", tag = "ApiTags::Admin")]
impl DriverReviewsApi {
    /// Licences waiting for a reviewer, oldest first (at most 200), with how long each has
    /// waited, the fields read, how the front compares with the barcode, links to the images,
    /// and for a renewal the licence it would replace and what changed. Reviewers and admins.
    #[oai(path = "/", method = "get", operation_id = "list_driver_reviews")]
    async fn list(&self, _auth: ReviewerAuth) -> Result<Json<Vec<ReviewView>>, ApiError> {
        let queue = self.state.drivers.reviews(200).await?;
        Ok(Json(queue.into_iter().map(Into::into).collect()))
    }

    /// Common reasons for rejecting a licence, to pick from (`driver.rejection_reasons`).
    /// Reviewers and admins.
    #[oai(path = "/reasons", method = "get", operation_id = "list_driver_rejection_reasons")]
    async fn reasons(&self, _auth: ReviewerAuth) -> Result<Json<RejectionReasons>, ApiError> {
        Ok(Json(RejectionReasons { reasons: self.state.config.driver.rejection_reasons.clone() }))
    }

    /// One side (`front` or `back`) of a reviewed licence's images. Reviewers and admins.
    /// Errors: `image_not_found` (404).
    #[oai(path = "/:id/images/:side", method = "get", operation_id = "get_driver_review_image")]
    async fn image(
        &self,
        _auth: ReviewerAuth,
        id: Path<i64>,
        side: Path<String>,
    ) -> Result<ImageResponse, ApiError> {
        let (bytes, content_type) = self.state.drivers.image(id.0, side.0).await?;
        let body = match ImageKind::from_content_type(&content_type) {
            Some(ImageKind::Png) => ImageBytes::Png(Binary(bytes)),
            _ => ImageBytes::Jpeg(Binary(bytes)),
        };
        Ok(ImageResponse::Image(body, "private, no-store".into()))
    }

    /// Approve a licence: the driver becomes (or stays) an approved driver. Errors:
    /// `review_not_found` (404), `review_already_decided` (409), `own_review` (403),
    /// `expiry_unknown` and `licence_expired` (422).
    #[oai(path = "/:id/approve", method = "post", operation_id = "approve_driver_review")]
    async fn approve(
        &self,
        req: &Request,
        auth: ReviewerAuth,
        id: Path<i64>,
        body: StrictJson<Approval>,
    ) -> Result<Decided, ApiError> {
        let reviewer = auth.principal().user_id.clone();
        let expiry = match body.0.expiry_date {
            Some(text) => {
                Some(NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
                    ApiError::validation(vec![crate::error::FieldError {
                        field: "expiry_date".into(),
                        message: "must be a date like 2031-03-15".into(),
                    }])
                })?)
            }
            None => None,
        };
        self.state.drivers.approve(&reviewer, id.0, request_meta(req).ip, expiry).await?;
        Ok(Decided::Decided)
    }

    /// Reject a licence with a reason the driver reads. Errors: `review_not_found` (404),
    /// `review_already_decided` (409), `own_review` (403), `validation_failed` (422).
    #[oai(path = "/:id/reject", method = "post", operation_id = "reject_driver_review")]
    async fn reject(
        &self,
        req: &Request,
        auth: ReviewerAuth,
        id: Path<i64>,
        body: StrictJson<Rejection>,
    ) -> Result<Decided, ApiError> {
        let reviewer = auth.principal().user_id.clone();
        self.state.drivers.reject(&reviewer, id.0, request_meta(req).ip, body.0.reason).await?;
        Ok(Decided::Decided)
    }
}
