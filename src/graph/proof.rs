//! `appsecret_proof`: every Graph call made with a business's token says
//! it comes from the holder of the app secret, so a business can switch on
//! Meta's *Require App Secret* (App settings, Advanced). The time-stamped
//! form: `appsecret_time` (Unix seconds) and
//! `hex(HMAC-SHA256(app secret, token + "|" + time))`, valid 5 minutes, so
//! it is made afresh for each request.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The two query parameters for a call made with `token` at `now_secs`.
pub(crate) fn params(
    app_secret: &Secret<String>,
    token: &Secret<String>,
    now_secs: i64,
) -> [(&'static str, String); 2] {
    let time = now_secs.to_string();
    let mut mac =
        Hmac::<Sha256>::new_from_slice(app_secret.expose().as_bytes()).expect("HMAC takes any key");
    mac.update(token.expose().as_bytes());
    mac.update(b"|");
    mac.update(time.as_bytes());
    let proof = hex::encode(mac.finalize().into_bytes());
    [("appsecret_proof", proof), ("appsecret_time", time)]
}

/// App tokens (`app_id|app_secret`) carry the secret itself: no proof.
pub(crate) fn is_app_token(token: &Secret<String>) -> bool {
    token.expose().contains('|')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proof_is_the_hmac_of_the_token_and_time_under_the_app_secret() {
        let [(proof_name, proof), (time_name, time)] = params(
            &Secret::new("sandbox-app-secret".into()),
            &Secret::new("EAAB-token".into()),
            1_780_000_000,
        );
        assert_eq!(
            (proof_name, time_name),
            ("appsecret_proof", "appsecret_time")
        );
        assert_eq!(time, "1780000000");
        // Computed independently: printf 'EAAB-token|1780000000' |
        // openssl dgst -sha256 -hmac sandbox-app-secret
        assert_eq!(
            proof,
            "504cd9d01dd64a608088a61c69abaee063f72bb7da3d525090cda98b40207029"
        );
    }

    #[test]
    fn app_tokens_are_told_apart() {
        assert!(is_app_token(&Secret::new("1000000000000001|secret".into())));
        assert!(!is_app_token(&Secret::new("EAAB-token".into())));
    }
}
