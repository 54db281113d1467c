//! `page` and `per_page` query parameters of admin lists. A page past the end is an empty
//! list, not an error; `total` says how many there are.

use poem_openapi::Object;

use crate::error::{ApiError, FieldError};

pub const DEFAULT_PER_PAGE: u32 = 50;
pub const MAX_PER_PAGE: u32 = 200;

#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub page: u32,
    pub per_page: u32,
}

impl Paging {
    pub fn new(page: Option<u32>, per_page: Option<u32>) -> Result<Self, ApiError> {
        let (page, per_page) = (page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE));
        let mut errors = Vec::new();
        if page == 0 {
            errors.push(FieldError { field: "page".into(), message: "starts at 1".into() });
        }
        if !(1..=MAX_PER_PAGE).contains(&per_page) {
            errors.push(FieldError {
                field: "per_page".into(),
                message: format!("must be between 1 and {MAX_PER_PAGE}"),
            });
        }
        if errors.is_empty() {
            Ok(Self { page, per_page })
        } else {
            Err(ApiError::validation(errors))
        }
    }

    pub fn limit(&self) -> i64 {
        self.per_page.into()
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.per_page)
    }

    pub fn info(&self, total: i64) -> PageInfo {
        PageInfo { page: self.page, per_page: self.per_page, total }
    }
}

/// Where a page is in the whole list.
#[derive(Debug, Object)]
pub struct PageInfo {
    /// 1-based.
    pub page: u32,
    pub per_page: u32,
    /// Matching items in all pages.
    pub total: i64,
}
