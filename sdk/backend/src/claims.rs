//! The verified claims of a session token (Clerk's JWT v2), typed.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// What a verified session token says. JWT times are seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// The issuer: the Frontend API URL.
    pub iss: String,
    /// The user id (`user_…`).
    pub sub: String,
    /// The session id (`sess_…`).
    pub sid: String,
    /// Issued at.
    pub iat: i64,
    /// Not valid before (Clerk sets `iat - 10`); checked with the verifier's skew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Expires at (session tokens live 60 s); checked with the verifier's skew.
    pub exp: i64,
    /// Token format version (2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v: Option<u8>,
    /// How long ago the user passed each factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fva: Option<FactorVerificationAge>,
    /// The authorized party: the Origin of the browser that asked for the token. Absent for
    /// native apps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    /// Session status when not `active` (e.g. `pending`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sts: Option<String>,
    /// Set when someone is impersonating the user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
    /// The active organization (`o`).
    #[serde(default, rename = "o", skip_serializing_if = "Option::is_none")]
    pub organization: Option<OrganizationClaim>,
    /// Features, comma-separated and scoped: `o:reports,u:beta` (`o` organization, `u` user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fea: Option<String>,
    /// Everything else, e.g. custom claims from a JWT template.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Claims {
    /// The active organization's id.
    pub fn org_id(&self) -> Option<&str> {
        self.organization.as_ref().map(|o| o.id.as_str())
    }

    /// The role in the active organization as Clerk spells it: `org:<role>`.
    pub fn org_role(&self) -> Option<String> {
        let role = self.organization.as_ref()?.role.as_deref()?;
        Some(format!("org:{role}"))
    }

    /// The permissions in the active organization, `org:<feature>:<permission>`, decoded from
    /// `o.per`, `o.fpm` and the organization features in `fea` the way `@clerk/backend` does.
    pub fn org_permissions(&self) -> Vec<String> {
        let Some(org) = &self.organization else {
            return Vec::new();
        };
        let (Some(per), Some(fpm)) = (&org.permissions, &org.feature_permission_map) else {
            return Vec::new();
        };
        let permissions: Vec<&str> = per.split(',').map(str::trim).collect();
        let features = self.features('o');
        let masks: Vec<Vec<bool>> = fpm
            .split(',')
            .map(|m| decimal_bits(m.trim()).unwrap_or_default())
            .collect();
        let mut out = Vec::new();
        for (feature, bits) in features.iter().zip(&masks) {
            for (perm, _) in permissions.iter().zip(bits).filter(|(_, set)| **set) {
                out.push(format!("org:{feature}:{perm}"));
            }
        }
        out
    }

    /// Whether the active organization grants `permission` (`org:<feature>:<permission>`).
    pub fn has_org_permission(&self, permission: &str) -> bool {
        self.org_permissions().iter().any(|p| p == permission)
    }

    /// Feature names in `fea` whose scope contains `scope` (`'o'` or `'u'`).
    fn features(&self, scope: char) -> Vec<&str> {
        self.fea
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter_map(|f| f.trim().split_once(':'))
            .filter(|(s, _)| s.contains(scope))
            .map(|(_, name)| name)
            .collect()
    }
}

/// `fva: [first, second]`: minutes since the first and the second factor were verified; `-1`
/// (here `None`) when never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FactorVerificationAge {
    /// Minutes since the first factor (password, code) was verified.
    pub first_factor_minutes: Option<i64>,
    /// Minutes since a second factor (TOTP, backup code, SMS) was verified; `None` when the
    /// session never passed one.
    pub second_factor_minutes: Option<i64>,
}

impl Serialize for FactorVerificationAge {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [
            self.first_factor_minutes.unwrap_or(-1),
            self.second_factor_minutes.unwrap_or(-1),
        ]
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FactorVerificationAge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let [first, second] = <[i64; 2]>::deserialize(d)?;
        let age = |m: i64| (m >= 0).then_some(m);
        Ok(Self {
            first_factor_minutes: age(first),
            second_factor_minutes: age(second),
        })
    }
}

/// The impersonation actor (`act`): who is acting as the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Actor {
    /// The impersonator's id.
    pub sub: String,
    /// Where the impersonation was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// The impersonator's own session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Any other claims of the actor.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The v2 organization claim `o: {id, slg, rol, per, fpm}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrganizationClaim {
    /// The active organization's id (`org_…`).
    pub id: String,
    /// Its slug (`slg`).
    #[serde(default, rename = "slg", skip_serializing_if = "Option::is_none")]
    pub slug: Option<String>,
    /// The role without its `org:` prefix (see [`Claims::org_role`]).
    #[serde(default, rename = "rol", skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Permission names, comma-separated.
    #[serde(default, rename = "per", skip_serializing_if = "Option::is_none")]
    pub permissions: Option<String>,
    /// Per organization feature, a decimal bit mask over `per` (bit 0 = first permission).
    #[serde(default, rename = "fpm", skip_serializing_if = "Option::is_none")]
    pub feature_permission_map: Option<String>,
}

/// The bits of a non-negative decimal of any length, least significant first.
fn decimal_bits(decimal: &str) -> Option<Vec<bool>> {
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut digits: Vec<u8> = decimal.bytes().map(|b| b - b'0').collect();
    let mut bits = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut remainder = 0u8;
        for d in digits.iter_mut() {
            let value = remainder * 10 + *d;
            *d = value / 2;
            remainder = value % 2;
        }
        bits.push(remainder == 1);
    }
    Some(bits)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn claims(extra: Value) -> Claims {
        let mut base = json!({
            "iss": "https://clerk.example.com", "sub": "user_1", "sid": "sess_1",
            "iat": 100, "nbf": 90, "exp": 160, "v": 2, "fva": [3, -1],
        });
        if let (Some(b), Value::Object(e)) = (base.as_object_mut(), extra) {
            b.extend(e);
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn fva_minus_one_means_never() {
        let c = claims(json!({}));
        assert_eq!(
            c.fva,
            Some(FactorVerificationAge {
                first_factor_minutes: Some(3),
                second_factor_minutes: None
            })
        );
        assert_eq!(serde_json::to_value(c.fva).unwrap(), json!([3, -1]));
        assert!(c.organization.is_none() && c.act.is_none() && c.azp.is_none());
    }

    #[test]
    fn organization_permissions_decode_like_clerk() {
        // Features reports (o) and billing (o), user-only beta (u); per = read,manage;
        // reports → 3 (read+manage), billing → 1 (read).
        let c = claims(json!({
            "fea": "o:reports,u:beta,o:billing",
            "o": {"id": "org_1", "slg": "acme", "rol": "admin", "per": "read,manage", "fpm": "3,1"},
            "act": {"sub": "user_admin", "iss": "https://dashboard.clerk.com"},
            "custom": true,
        }));
        assert_eq!(c.org_id(), Some("org_1"));
        assert_eq!(c.org_role().as_deref(), Some("org:admin"));
        assert_eq!(
            c.org_permissions(),
            ["org:reports:read", "org:reports:manage", "org:billing:read"]
        );
        assert!(c.has_org_permission("org:billing:read"));
        assert!(!c.has_org_permission("org:billing:manage"));
        assert_eq!(c.act.as_ref().map(|a| a.sub.as_str()), Some("user_admin"));
        assert_eq!(c.extra.get("custom"), Some(&json!(true)));
        assert!(
            !c.extra.contains_key("o"),
            "known claims are not repeated in extra"
        );
    }

    #[test]
    fn bit_masks_of_any_length() {
        assert_eq!(decimal_bits("6"), Some(vec![false, true, true]));
        assert_eq!(decimal_bits("0"), Some(vec![]));
        assert_eq!(decimal_bits("x1"), None);
        // 2^70
        let big = decimal_bits("1180591620717411303424").unwrap();
        assert_eq!(big.len(), 71);
        assert!(big[70] && big[..70].iter().all(|b| !b));
    }
}
