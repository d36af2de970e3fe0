//! Pages of list responses: their size from the request (within [`REQUEST_LIMITS`]), their next token, and a cut
//! where more items would not fit comfortably in one message (a page of templates with large default inputs, of
//! nodes with long error messages).

use gantry_engine::Page;
use prost::Message;
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

/// A page's items and their keys, cut to fit `budget` bytes, with the next page's token.
///
/// `rows` is how many rows the store returned for a page of `limit` (some may have been filtered out of `items`);
/// `last_key` is the key of the last of them. A full page, or a cut one, has a next page.
pub fn fit<T: Message>(
    items: Vec<(String, T)>,
    budget: u64,
    (rows, limit, last_key): (usize, u32, Option<String>),
) -> (Vec<T>, String) {
    let total = items.len();
    let mut used = 0u64;
    let mut kept = Vec::with_capacity(total);
    let mut cut_after = None;
    for (key, item) in items {
        let size = item.encoded_len() as u64;
        if !kept.is_empty() && used.saturating_add(size) > budget {
            break;
        }
        used = used.saturating_add(size);
        cut_after = Some(key);
        kept.push(item);
    }
    let cut = kept.len() < total;
    let token = if cut {
        cut_after.unwrap_or_default()
    } else if rows as u64 >= u64::from(limit) {
        last_key.unwrap_or_default()
    } else {
        String::new()
    };
    (kept, token)
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

    use gantry_proto::v1 as pb;

    fn error(len: usize) -> pb::ExecutionError {
        pb::ExecutionError {
            message: "x".repeat(len),
            ..Default::default()
        }
    }

    #[test]
    fn a_page_that_fits_is_whole() {
        let items = vec![("1".to_owned(), error(10)), ("2".to_owned(), error(10))];
        let (kept, token) = fit(items.clone(), 1_000, (2, 100, Some("2".into())));
        assert_eq!((kept.len(), token.as_str()), (2, ""), "the last page");
        let (kept, token) = fit(items, 1_000, (2, 2, Some("2".into())));
        assert_eq!((kept.len(), token.as_str()), (2, "2"), "a full page has a next one");
    }

    #[test]
    fn a_page_too_large_is_cut_after_the_last_item_that_fits() {
        let items = vec![
            ("1".to_owned(), error(400)),
            ("2".to_owned(), error(400)),
            ("3".to_owned(), error(400)),
        ];
        let (kept, token) = fit(items, 1_000, (3, 100, Some("3".into())));
        assert_eq!((kept.len(), token.as_str()), (2, "2"));
        let huge = vec![("1".to_owned(), error(5_000)), ("2".to_owned(), error(1))];
        let (kept, token) = fit(huge, 1_000, (2, 100, Some("2".into())));
        assert_eq!(
            (kept.len(), token.as_str()),
            (1, "1"),
            "one item always goes, however large"
        );
    }
}
