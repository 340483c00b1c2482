//! `GET /v1/environment`: the instance's settings as Clerk SDKs read them.

use latchkey_protocol::Strategy;
use serde_json::{json, Value};

use super::settings::{Attribute, Settings};

fn onoff(a: &Attribute) -> &'static str {
    match (a.enabled, a.required) {
        (false, _) => "off",
        (true, true) => "required",
        (true, false) => "on",
    }
}

fn attribute(a: &Attribute, first_factors: &[Strategy], verifications: &[Strategy]) -> Value {
    json!({
        "enabled": a.enabled,
        "required": a.enabled && a.required,
        "used_for_first_factor": a.enabled && a.used_for_first_factor,
        "first_factors": if a.enabled && a.used_for_first_factor { first_factors.to_vec() } else { vec![] },
        "used_for_second_factor": false,
        "second_factors": [],
        "verifications": if a.enabled { verifications.to_vec() } else { vec![] },
        "verify_at_sign_up": a.enabled && a.verify_at_sign_up,
        "immutable": false,
    })
}

fn off() -> Value {
    attribute(&Attribute::off(), &[], &[])
}

/// `attr` offered as a second factor with `strategies` (see `domain/mfa.rs`).
fn second_factor(mut attr: Value, strategies: &[Strategy]) -> Value {
    attr["used_for_second_factor"] = json!(true);
    attr["second_factors"] = json!(strategies);
    attr
}

/// An attribute that is only a second factor (authenticator app, backup codes): always on.
fn only_second_factor(strategy: Strategy) -> Value {
    let on = Attribute {
        enabled: true,
        ..Attribute::off()
    };
    second_factor(attribute(&on, &[], &[]), &[strategy])
}

pub fn environment(s: &Settings, instance_id: &str, fapi_url: &str) -> Value {
    let password = Attribute {
        enabled: true,
        required: s.password_required,
        used_for_first_factor: true,
        verify_at_sign_up: false,
        used_for_second_factor: false,
        email_link: false,
    };
    let links = s.email_address.enabled && s.email_address.email_link;
    // The widget's keys are shown only while bot protection is on (clerk-js needs both).
    let captcha = s.captcha.enabled.then_some(&s.captcha);
    let mut first_factors = vec![Strategy::Password];
    let mut strategies = Vec::new();
    if s.email_address.enabled && s.email_address.used_for_first_factor {
        first_factors.extend([Strategy::EmailCode, Strategy::ResetPasswordEmailCode]);
        if links {
            first_factors.push(Strategy::EmailLink);
        }
        strategies.push("email_address");
    }
    if s.phone_number.enabled && s.phone_number.used_for_first_factor {
        first_factors.extend([Strategy::PhoneCode, Strategy::ResetPasswordPhoneCode]);
        strategies.push("phone_number");
    }
    if s.username.enabled && s.username.used_for_first_factor {
        strategies.push("username");
    }
    let requirements: Vec<Vec<&str>> = strategies.iter().map(|x| vec![*x]).collect();
    // Second factors (see `domain/mfa.rs`): TOTP and backup codes always, SMS codes where phone
    // numbers are on, emailed codes where the instance turns them on.
    let mut second_factors = vec![Strategy::Totp, Strategy::BackupCode];
    let email_strategies: &[Strategy] = if links {
        &[Strategy::EmailCode, Strategy::EmailLink]
    } else {
        &[Strategy::EmailCode]
    };
    let mut email_address = attribute(&s.email_address, email_strategies, email_strategies);
    if s.email_address.enabled && s.email_address.used_for_second_factor {
        if links {
            email_address =
                second_factor(email_address, &[Strategy::EmailCode, Strategy::EmailLink]);
            second_factors.extend([Strategy::EmailCode, Strategy::EmailLink]);
        } else {
            email_address = second_factor(email_address, &[Strategy::EmailCode]);
            second_factors.push(Strategy::EmailCode);
        }
    }
    let mut phone_number = attribute(
        &s.phone_number,
        &[Strategy::PhoneCode],
        &[Strategy::PhoneCode],
    );
    if s.phone_number.enabled {
        phone_number = second_factor(phone_number, &[Strategy::PhoneCode]);
        second_factors.push(Strategy::PhoneCode);
    }
    let p = &s.password_settings;
    let a = &s.attack_protection;
    json!({
        "auth_config": {
            "object": "auth_config",
            "id": format!("aac_{}", instance_id.trim_start_matches("ins_")),
            "first_name": onoff(&s.first_name),
            "last_name": onoff(&s.last_name),
            "email_address": onoff(&s.email_address),
            "phone_number": onoff(&s.phone_number),
            "username": onoff(&s.username),
            "password": if s.password_required { "required" } else { "on" },
            "identification_requirements": requirements,
            "identification_strategies": strategies,
            "first_factors": first_factors,
            "second_factors": second_factors,
            "email_address_verification_strategies": email_strategies,
            "single_session_mode": s.single_session_mode,
            "enhanced_email_deliverability": false,
            "test_mode": true,
            "cookieless_dev": false,
            "url_based_session_syncing": false,
            "claimed_at": null,
            // Session reverification (`/v1/client/sessions/{id}/verify…`, `domain/reverify.rs`).
            "reverification": true,
            "native_settings": {
                "object": "native_settings",
                "api_enabled": true,
                "trusted_device_sign_in_enabled": false,
                "trusted_device_enrollment_prompt_after_sign_in_enabled": false,
                "trusted_device_enrollment_prompt_after_sign_up_enabled": false,
            },
        },
        "display_config": {
            "object": "display_config",
            "id": format!("display_config_{}", instance_id.trim_start_matches("ins_")),
            "instance_environment_type": "development",
            "application_name": s.application_name,
            "theme": {},
            "preferred_sign_in_strategy": Strategy::Password,
            "logo_image_url": null,
            "favicon_image_url": null,
            "home_url": fapi_url,
            "sign_in_url": format!("{fapi_url}/sign-in"),
            "sign_up_url": format!("{fapi_url}/sign-up"),
            "user_profile_url": format!("{fapi_url}/user"),
            "waitlist_url": format!("{fapi_url}/waitlist"),
            "oauth_consent_url": format!("{fapi_url}/oauth-consent"),
            "logo_url": null,
            "favicon_url": null,
            "logo_image": null,
            "favicon_image": null,
            "after_sign_in_url": fapi_url,
            "after_sign_up_url": fapi_url,
            "after_sign_out_one_url": fapi_url,
            "after_sign_out_all_url": fapi_url,
            "after_switch_session_url": fapi_url,
            "after_join_waitlist_url": fapi_url,
            "organization_profile_url": format!("{fapi_url}/organization"),
            "create_organization_url": format!("{fapi_url}/create-organization"),
            "after_leave_organization_url": fapi_url,
            "after_create_organization_url": fapi_url,
            "logo_link_url": fapi_url,
            "support_email": null,
            "branded": false,
            "experimental_force_oauth_first": false,
            "clerk_js_version": null,
            "show_devmode_warning": false,
            "google_one_tap_client_id": null,
            "help_url": null,
            "privacy_policy_url": null,
            "terms_url": null,
            "captcha_public_key": captcha.map(|c| c.site_key.as_str()),
            "captcha_widget_type": captcha.map(|c| c.widget_type.as_str()),
            "captcha_public_key_invisible": captcha.map(|c| c.invisible_site_key.as_str()),
            "captcha_provider": captcha.map(|_| "turnstile"),
            "captcha_oauth_bypass": [],
            "captcha_heartbeat": null,
        },
        "user_settings": {
            "attributes": {
                "email_address": email_address,
                "phone_number": phone_number,
                "username": attribute(&s.username, &[], &[]),
                "web3_wallet": off(),
                "first_name": attribute(&s.first_name, &[], &[]),
                "last_name": attribute(&s.last_name, &[], &[]),
                "password": attribute(&password, &[], &[]),
                "authenticator_app": only_second_factor(Strategy::Totp),
                // Sign-in tokens (`strategy=ticket`, domain/sign_in_tokens.rs).
                "ticket": attribute(&Attribute { enabled: true, used_for_first_factor: true, ..Attribute::off() }, &[Strategy::Ticket], &[]),
                "backup_code": only_second_factor(Strategy::BackupCode),
                "passkey": off(),
            },
            "social": super::oauth::environment_social(s),
            "saml": {"enabled": false, "self_serve_sso": false},
            "enterprise_sso": {"enabled": false, "self_serve_sso": false},
            "sign_in": {"second_factor": {"required": false}},
            "sign_up": {
                "captcha_enabled": s.captcha.enabled,
                "captcha_widget_type": s.captcha.widget_type,
                "custom_action_required": false,
                "progressive": true,
                "mode": s.sign_up_mode,
                "legal_consent_enabled": false,
            },
            "restrictions": {
                "allowlist": {"enabled": false},
                "blocklist": {"enabled": false},
                "allowlist_blocklist_disabled_on_sign_in": {"enabled": false},
                "block_email_subaddresses": {"enabled": false},
                "block_disposable_email_domains": {"enabled": false},
            },
            "password_settings": {
                "disable_hibp": p.disable_hibp,
                "disable_password_reverification": p.disable_password_reverification,
                "min_length": s.password_min_length,
                "max_length": p.max_length,
                "require_special_char": p.require_special_char,
                "require_numbers": p.require_numbers,
                "require_uppercase": p.require_uppercase,
                "require_lowercase": p.require_lowercase,
                "show_zxcvbn": p.show_zxcvbn,
                "min_zxcvbn_strength": p.min_zxcvbn_strength,
                "enforce_hibp_on_sign_in": p.enforce_hibp_on_sign_in,
                "allowed_special_characters": p.allowed_special_characters,
            },
            "username_settings": {
                "min_length": 4,
                "max_length": 64,
                "allow_extended_special_characters": false,
                "allow_numeric_usernames": true,
            },
            "actions": {
                "delete_self": s.delete_self_enabled,
                "create_organization": false,
                "create_organizations_limit": null,
            },
            "attack_protection": {
                "user_lockout": {
                    "enabled": a.user_lockout.enabled,
                    "max_attempts": a.user_lockout.max_attempts,
                    "duration_in_minutes": a.user_lockout.duration_in_minutes,
                },
                "pii": {"enabled": a.pii.enabled},
                "email_link": {"require_same_client": a.email_link.require_same_client},
                "enumeration_protection": {"enabled": a.enumeration_protection.enabled},
            },
            "passkey_settings": {
                "allow_autofill": false,
                "show_sign_in_button": false,
                "satisfies_second_factor": false,
            },
        },
        "organization_settings": {
            "enabled": false,
            "max_allowed_memberships": 5,
            "actions": {"admin_delete": true},
            "domains": {"enabled": false, "enrollment_modes": [], "default_role": "org:member"},
            "slug": {"disabled": false},
            "creator_role": "org:admin",
        },
        "fraud_settings": {"object": "fraud_settings", "native": {"device_attestation_mode": "disabled"}},
        "commerce_settings": {
            "billing": {
                "stripe_publishable_key": null,
                "free_trial_requires_payment_method": false,
                "user": {"enabled": false, "has_paid_plans": false},
                "organization": {"enabled": false, "has_paid_plans": false},
            }
        },
        "api_keys_settings": {"enabled": false, "user_api_keys_enabled": false, "orgs_api_keys_enabled": false},
        "client_debug_mode": false,
        "maintenance_mode": false,
    })
}
