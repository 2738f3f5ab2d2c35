//! Graph calls that get a number ready: verification codes for a number
//! still to verify (`request_code`, `verify_code`), and the one-time syncs
//! of a WhatsApp Business app number (`smb_app_data`, reference
//! meta-2026 §2).

use serde_json::json;

use super::{GraphClient, GraphError};
use crate::{secret::Secret, store::SyncType, text_enum::text_enum};

text_enum! {
    /// How Meta delivers a verification code.
    pub enum CodeMethod {
        Sms = "SMS",
        Voice = "VOICE",
    }
}

/// Whether `code_verification_status` says the number still needs its code
/// (Meta writes `NOT_VERIFIED`; its spec says `UNVERIFIED`).
pub fn needs_code(status: Option<&str>) -> bool {
    matches!(status, Some("NOT_VERIFIED" | "UNVERIFIED" | "EXPIRED"))
}

impl GraphClient {
    /// `POST /{phone-number-id}/request_code`: Meta texts or calls the
    /// number with a code.
    pub async fn request_code(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        method: CodeMethod,
        language: &str,
    ) -> Result<(), GraphError> {
        self.post(
            token,
            &format!("{phone_number_id}/request_code"),
            json!({ "code_method": method.as_str(), "language": language }),
        )
        .await?;
        Ok(())
    }

    /// `POST /{phone-number-id}/verify_code` with the code the person got.
    pub async fn verify_code(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        code: &str,
    ) -> Result<(), GraphError> {
        self.post(
            token,
            &format!("{phone_number_id}/verify_code"),
            json!({ "code": code }),
        )
        .await?;
        Ok(())
    }

    /// `POST /{phone-number-id}/smb_app_data`: asks Meta for the Business
    /// app's contacts or history (once each, within 24 hours of
    /// onboarding); returns Meta's request id, if it gave one.
    pub async fn business_app_sync(
        &self,
        token: &Secret<String>,
        phone_number_id: &str,
        sync_type: SyncType,
    ) -> Result<Option<String>, GraphError> {
        let body = self
            .post(
                token,
                &format!("{phone_number_id}/smb_app_data"),
                json!({ "messaging_product": "whatsapp", "sync_type": sync_type.as_str() }),
            )
            .await?;
        Ok(crate::webhook::payload::scalar::text(&body["request_id"]))
    }
}
