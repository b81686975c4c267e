//! The login limiter: attempts counted per e-mail and per client address, the client read through
//! the trusted proxies.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Counts login attempts per e-mail and per client address in a fixed window. An attempt is
/// reserved before its password is checked, so a hundred concurrent guesses cannot all slip in
/// before the first failure is counted; a success clears its e-mail's count.
#[derive(Default)]
pub struct LoginLimiter {
    attempts: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginLimiter {
    const WINDOW: Duration = Duration::from_secs(15 * 60);
    const PER_EMAIL: u32 = 10;
    const PER_ADDRESS: u32 = 50;

    /// An e-mail as the limiter keys it: at most an address's 254 bytes, so a flood of made-up
    /// megabyte-long ones cannot fill memory.
    fn email_key(email: &str) -> String {
        let email = email.trim().to_ascii_lowercase();
        let mut end = email.len().min(keepwell_core::limits::EMAIL);
        while !email.is_char_boundary(end) {
            end -= 1;
        }
        format!("e:{}", &email[..end])
    }

    fn keys(email: &str, address: &str) -> [(String, u32); 2] {
        [(Self::email_key(email), Self::PER_EMAIL), (format!("a:{address}"), Self::PER_ADDRESS)]
    }

    /// Takes one attempt for this e-mail and address, or says how long until one is free.
    pub fn reserve(&self, email: &str, address: &str) -> Result<(), Duration> {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 100_000 {
            map.retain(|_, (_, since)| since.elapsed() <= Self::WINDOW);
        }
        let keys = Self::keys(email, address);
        let mut wait = Duration::ZERO;
        for (k, limit) in &keys {
            if let Some((n, since)) = map.get(k) {
                if since.elapsed() <= Self::WINDOW && n >= limit {
                    wait = wait.max(Self::WINDOW.saturating_sub(since.elapsed()));
                }
            }
        }
        if wait > Duration::ZERO {
            return Err(wait.max(Duration::from_secs(1)));
        }
        for (k, _) in keys {
            let entry = map.entry(k).or_insert((0, Instant::now()));
            if entry.1.elapsed() > Self::WINDOW {
                *entry = (0, Instant::now());
            }
            entry.0 += 1;
        }
        Ok(())
    }

    /// A reserved attempt succeeded: the e-mail starts afresh (its address keeps counting).
    pub fn succeeded(&self, email: &str) {
        let mut map = self.attempts.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&Self::email_key(email));
    }
}

/// Addresses whose `X-Forwarded-For` is believed (`KEEPWELL_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// Reads `10.0.0.0/8, 192.168.1.10, ::1`: addresses or CIDR ranges, separated by commas.
    pub fn parse(text: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for part in text.split([',', ' ']).map(str::trim).filter(|p| !p.is_empty()) {
            let net = part
                .parse::<ipnet::IpNet>()
                .or_else(|_| part.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| format!("{part:?} is neither an IP address nor a CIDR range"))?;
            nets.push(net);
        }
        Ok(TrustedProxies(nets))
    }

    fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the rightmost
    /// address in `X-Forwarded-For` that is not itself a trusted proxy.
    pub fn client(&self, peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> std::net::IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded: Vec<std::net::IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|a| a.trim().parse().ok())
            .collect();
        forwarded.into_iter().rev().find(|a| !self.trusts(*a)).unwrap_or(peer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_reserves_ten_attempts_per_email() {
        let l = LoginLimiter::default();
        for _ in 0..10 {
            assert!(l.reserve("a@b.c", "1.1.1.1").is_ok());
        }
        let wait = l.reserve("A@b.c", "2.2.2.2").unwrap_err();
        assert!(wait > Duration::from_secs(14 * 60), "{wait:?}");
        assert!(l.reserve("other@b.c", "1.1.1.1").is_ok());
        l.succeeded("a@b.c");
        assert!(l.reserve("a@b.c", "1.1.1.1").is_ok(), "a success starts the e-mail afresh");
        assert_eq!(LoginLimiter::email_key(&"é".repeat(1000)).len(), 2 + 254, "keys stay small");
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let trusted = TrustedProxies::parse("10.0.0.0/8, ::1").unwrap();
        let mut h = axum::http::HeaderMap::new();
        h.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7, 10.1.1.1".parse().unwrap());
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert_eq!(trusted.client(ip("10.0.0.2"), &h), ip("198.51.100.7"), "the rightmost untrusted hop");
        assert_eq!(trusted.client(ip("192.0.2.1"), &h), ip("192.0.2.1"), "a stranger's header is ignored");
        assert_eq!(TrustedProxies::default().client(ip("10.0.0.2"), &h), ip("10.0.0.2"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
