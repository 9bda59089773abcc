//! The eight upstream services the simulator plays, their names and default
//! ports. Everything else (data, faults, listeners) is keyed by [`Service`].

use std::fmt;

/// One of the eight upstream services of the upstream contract (docs/api.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Service {
    /// `GET /users/{id}`.
    Users,
    /// `GET /orders`, `GET /orders/{id}`, `POST /orders`.
    Orders,
    /// `GET /products/{id}`, `GET /products?ids=`.
    Catalog,
    /// `GET /prices?product_ids=`.
    Pricing,
    /// `GET /stock?product_ids=`.
    Inventory,
    /// `GET /recommendations?user_id=`.
    Recommendations,
    /// `GET /notifications?user_id=`.
    Notifications,
    /// `GET /reviews?product_id=`.
    Reviews,
}

impl Service {
    /// Every service, in port order.
    pub const ALL: [Service; 8] = [
        Service::Users,
        Service::Orders,
        Service::Catalog,
        Service::Pricing,
        Service::Inventory,
        Service::Recommendations,
        Service::Notifications,
        Service::Reviews,
    ];

    /// The lower-case name used in URLs, flags and the control API.
    pub fn name(self) -> &'static str {
        match self {
            Service::Users => "users",
            Service::Orders => "orders",
            Service::Catalog => "catalog",
            Service::Pricing => "pricing",
            Service::Inventory => "inventory",
            Service::Recommendations => "recommendations",
            Service::Notifications => "notifications",
            Service::Reviews => "reviews",
        }
    }

    /// The service with this name (ASCII case ignored), if any.
    pub fn from_name(name: &str) -> Option<Service> {
        Service::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The port it listens on by default: 9101 (users) to 9108 (reviews).
    pub fn default_port(self) -> u16 {
        9101 + self.index() as u16
    }

    /// Its position in [`Service::ALL`].
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ports_follow_the_documented_order() {
        for (i, s) in Service::ALL.into_iter().enumerate() {
            assert_eq!(Service::from_name(s.name()), Some(s));
            assert_eq!(s.index(), i);
            assert_eq!(s.default_port(), 9101 + i as u16);
        }
        assert_eq!(Service::from_name("Orders"), Some(Service::Orders));
        assert_eq!(Service::from_name("payments"), None);
    }
}
