//! Our eight concrete backends (docs/api.md#the-upstream-contract): the set of upstreams
//! bff-mobile and bff-web declare ([`UPSTREAMS`], [`declare`]), typed calls
//! over them and the DTOs they answer with ([`Backends`]), and the state
//! our handlers take ([`Bff`]: the platform plus these calls). The
//! machinery (`platform`, `upstream`, `fanout`) knows nothing of these;
//! another team declares its own upstreams and keeps the rest.
//!
//! DTOs name the fields the BFFs use; fields an upstream adds are ignored.
//! A missing field or a wrong type makes the answer a `bad_response`.

mod calls;
mod dto;
mod recommended;
mod state;
mod views;

#[cfg(test)]
pub(crate) mod props;

pub use calls::Backends;
pub use dto::*;
pub use recommended::Recommended;
pub use state::{Bff, BffParts, UPSTREAMS, declare};
pub use views::{OrderSummaries, OrderSummary, ProductCard, UnreadCount, UserCard};

use crate::cache::Cached;
use crate::upstream::UpstreamError;

/// The item of a batch answer (`/prices`, `/stock`) that `matches`. A batch
/// that leaves the product out is `NotFound` for that section: the upstream
/// answered but has nothing for this product. Generic over the batch's
/// container because cached batches come shared (`Arc<Vec<_>>`).
pub async fn one_of<T, B>(
    batch: impl Future<Output = Result<B, UpstreamError>>,
    matches: impl Fn(&T) -> bool,
) -> Result<T, UpstreamError>
where
    T: Clone,
    B: std::ops::Deref,
    B::Target: AsRef<[T]>,
{
    let batch = batch.await?;
    batch
        .as_ref()
        .iter()
        .find(|item| matches(item))
        .cloned()
        .ok_or(UpstreamError::NotFound)
}

/// [`one_of`] for a batch from the fragment cache: the item keeps the
/// batch's staleness.
pub async fn one_of_cached<T, B>(
    batch: impl Future<Output = Result<Cached<B>, UpstreamError>>,
    matches: impl Fn(&T) -> bool,
) -> Result<Cached<T>, UpstreamError>
where
    T: Clone,
    B: std::ops::Deref,
    B::Target: AsRef<[T]>,
{
    let Cached { value, stale } = batch.await?;
    let item = one_of(async { Ok(value) }, matches).await?;
    Ok(Cached { value: item, stale })
}

/// Whether `id` is a plausible resource id to put into an upstream path:
/// 1 to 64 characters, each a letter, digit, `.`, `_`, `:` or `-`, the
/// first a letter or digit (docs/api.md#ids-in-paths). Anything else is refused
/// with 400 before any upstream is called.
///
/// The first-character rule is what keeps `.` and `..` (however they were
/// encoded: the router has decoded them by now) out of upstream paths: an
/// HTTP client or proxy would resolve `/orders/..` to `/`, letting a client
/// reach an upstream path that no route names.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.as_bytes()[0].is_ascii_alphanumeric()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_start_with_a_letter_or_digit_so_dot_segments_never_pass() {
        for ok in ["p-1", "o-1-1", "A", "9", "a.b", "x:y_z-1", &"a".repeat(64)] {
            assert!(is_valid_id(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "-p",
            "_p",
            ":p",
            "a/b",
            "a b",
            "a%2e",
            "ü",
            "a\n",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn a_batch_without_the_product_is_not_found() {
        let batch = async { Ok(vec![1, 2, 3]) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Ok(2));
        let batch = async { Ok(vec![1, 3]) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Err(UpstreamError::NotFound));
        let batch = async { Err::<Vec<i32>, _>(UpstreamError::Timeout) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Err(UpstreamError::Timeout));
    }

    #[tokio::test]
    async fn the_item_of_a_stale_batch_is_stale_too() {
        let batch = async {
            Ok(Cached {
                value: vec![1, 2],
                stale: true,
            })
        };
        assert_eq!(
            one_of_cached(batch, |n| *n == 2).await,
            Ok(Cached { value: 2, stale: true })
        );
        let batch = async { Ok(Cached::fresh(vec![1])) };
        assert_eq!(one_of_cached(batch, |n| *n == 2).await, Err(UpstreamError::NotFound));
    }
}
