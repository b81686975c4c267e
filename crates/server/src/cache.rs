//! The last few values computed from the store, for reports that take long to compute and are
//! asked for again and again (the Revenue page, the metrics API). A key carries the store's
//! revenue version, so a value is never served after anything it was computed from changed, on
//! this node or another.

use chrono::NaiveDate;
use keepwell_core::metrics::{DayMrr, Ledger};
use keepwell_core::money::Month;
use keepwell_core::renewal::{Decided, Terms};
use keepwell_store::billing::RevenueFilter;
use std::sync::{Arc, Mutex};

pub struct Recent<K, V> {
    capacity: usize,
    /// Least recently used first.
    list: Mutex<Vec<(K, Arc<V>)>>,
}

impl<K: PartialEq, V> Recent<K, V> {
    pub fn new(capacity: usize) -> Recent<K, V> {
        Recent { capacity: capacity.max(1), list: Mutex::new(Vec::new()) }
    }

    pub fn get(&self, key: &K) -> Option<Arc<V>> {
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        let at = list.iter().position(|(k, _)| k == key)?;
        let hit = list.remove(at);
        let value = hit.1.clone();
        list.push(hit);
        Some(value)
    }

    /// Keeps `value` under `key`, dropping the least recently used when full.
    pub fn put(&self, key: K, value: V) -> Arc<V> {
        let value = Arc::new(value);
        let mut list = self.list.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|(k, _)| k != &key);
        if list.len() >= self.capacity {
            list.remove(0);
        }
        list.push((key, value.clone()));
        value
    }
}

/// Revenue reports computed lately, each under the store's revenue version it was computed at.
pub struct RevenueCache {
    /// A ledger of 100 000 accounts over three years is tens of MB: only two are kept.
    pub ledgers: Recent<(RevenueFilter, Month, String, i64, NaiveDate), Ledger>,
    /// Renewals due in a range of months, converted to the reporting currency.
    #[allow(clippy::type_complexity)]
    pub decided: Recent<(Month, Month, String, i64, Terms, u32, NaiveDate), Vec<Decided>>,
    /// The plans and industries the Revenue page filters by.
    pub facets: Recent<i64, (Vec<String>, Vec<String>)>,
    /// A book's MRR today (each member's home page): a few bytes each, so one per member.
    pub mrr_today: Recent<(RevenueFilter, String, i64, NaiveDate), DayMrr>,
}

impl Default for RevenueCache {
    fn default() -> Self {
        RevenueCache {
            ledgers: Recent::new(2),
            decided: Recent::new(4),
            facets: Recent::new(1),
            mrr_today: Recent::new(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used() {
        let r = Recent::new(2);
        r.put(1, "a");
        r.put(2, "b");
        assert_eq!(r.get(&1).as_deref(), Some(&"a"));
        r.put(3, "c");
        assert_eq!(r.get(&2), None, "2 was the least recently used");
        assert_eq!((r.get(&1).as_deref(), r.get(&3).as_deref()), (Some(&"a"), Some(&"c")));
        r.put(3, "d");
        assert_eq!(r.get(&3).as_deref(), Some(&"d"));
    }
}
