//! Our eight concrete backends (DESIGN.md section 2): typed calls and the
//! DTOs they answer with. The machinery (`upstream`, `fanout`) knows nothing
//! of these; another team can replace this module and keep the rest.
//!
//! DTOs name the fields the BFFs use; fields an upstream adds are ignored.
//! A missing field or a wrong type makes the answer a `bad_response`.

mod calls;
mod dto;

pub use calls::Backends;
pub use dto::*;

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

/// Whether `id` is a plausible resource id to put into an upstream path:
/// 1 to 64 characters, each a letter, digit, `.`, `_`, `:` or `-`.
/// Anything else is refused with 400 before any upstream is called.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_without_the_product_is_not_found() {
        let batch = async { Ok(vec![1, 2, 3]) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Ok(2));
        let batch = async { Ok(vec![1, 3]) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Err(UpstreamError::NotFound));
        let batch = async { Err::<Vec<i32>, _>(UpstreamError::Timeout) };
        assert_eq!(one_of(batch, |n| *n == 2).await, Err(UpstreamError::Timeout));
    }
}
