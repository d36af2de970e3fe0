//! Paging of the admin listings: a page size within [`REQUEST_LIMITS`], and tokens that are the key of a page's last
//! row.

use gantry_store::Page;
use tonic::Status;

use crate::config::REQUEST_LIMITS;
use crate::status::within;

/// The page a listing asks for: `page_size` 0 is the default; above the limit, INVALID_ARGUMENT.
pub fn page(size: u32, token: String) -> Result<Page, Status> {
    within("page_size", size as usize, REQUEST_LIMITS.page_size as usize)?;
    let limit = if size == 0 {
        REQUEST_LIMITS.default_page_size
    } else {
        size
    };
    Ok(Page {
        after: (!token.is_empty()).then_some(token),
        limit,
    })
}

/// The next page's token: the key of the last row when the page is full.
pub fn next_token<T>(rows: &[T], limit: u32, key: impl Fn(&T) -> String) -> String {
    match rows.last() {
        Some(last) if rows.len() as u32 >= limit => key(last),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_default_and_stop_at_the_limit() {
        assert_eq!(page(0, String::new()).expect("default").limit, 100);
        assert_eq!(page(1_000, String::new()).expect("at the limit").limit, 1_000);
        let refused = page(1_001, String::new()).expect_err("over the limit");
        assert_eq!(refused.code(), tonic::Code::InvalidArgument);
        assert!(
            refused
                .message()
                .contains("page_size: 1001 given, over the limit of 1000")
        );
        assert_eq!(page(5, "k".to_owned()).expect("a token").after.as_deref(), Some("k"));
    }

    #[test]
    fn only_a_full_page_has_a_next_token() {
        assert_eq!(next_token(&[1, 2], 2, i32::to_string), "2");
        assert_eq!(next_token(&[1], 2, i32::to_string), "");
    }
}
