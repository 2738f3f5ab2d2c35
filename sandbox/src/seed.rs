//! The demo business every fresh sandbox starts with.

use crate::{
    accounts::{NameStatus, PortfolioLimits, Standing},
    ids,
    templates::Template,
    world::{Business, BusinessProfile, Phone, Waba, World},
    SandboxConfig,
};

/// The seeded assets, for tests and for the demo UI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DemoIds {
    pub business_id: String,
    pub waba_id: String,
    /// Registered and ready to send (two-step PIN `DEMO_PIN`).
    pub phone_number_id: String,
    /// Not registered yet and without a PIN, as after Embedded Signup.
    pub new_phone_number_id: String,
    /// The simulated customer's WhatsApp id.
    pub customer_wa_id: String,
}

pub const DEMO_PIN: &str = "246810";

pub fn demo_business(
    world: &mut World,
    rng: &mut fastrand::Rng,
    config: &SandboxConfig,
) -> DemoIds {
    let business_id = ids::numeric(rng);
    let waba_id = ids::numeric(rng);
    let phone_number_id = ids::numeric(rng);
    let new_phone_number_id = ids::numeric(rng);
    world.businesses.insert(
        business_id.clone(),
        Business {
            id: business_id.clone(),
            name: "Acme Bakery".into(),
            limits: PortfolioLimits::established(),
        },
    );
    world.wabas.insert(
        waba_id.clone(),
        Waba {
            id: waba_id.clone(),
            name: "Acme Bakery WhatsApp".into(),
            business_id: business_id.clone(),
            subscribed: false,
            override_callback: None,
            standing: Standing::default(),
            unshared: false,
        },
    );
    let phone = |id: &str, display: &str, registered: bool| Phone {
        id: id.to_string(),
        waba_id: waba_id.clone(),
        display_phone_number: display.to_string(),
        verified_name: "Acme Bakery".into(),
        name_status: NameStatus::Approved,
        registered,
        verified: true,
        verification: Default::default(),
        pin: registered.then(|| DEMO_PIN.to_string()),
        register_attempts: Vec::new(),
        quality_rating: "GREEN".into(),
        profile: BusinessProfile {
            about: Some("Fresh bread every morning.".into()),
            address: Some("1 Baker Street, Springfield".into()),
            description: Some("A family bakery since 1990.".into()),
            email: Some("hello@acme-bakery.example".into()),
            websites: vec!["https://acme-bakery.example".into()],
            vertical: Some("RESTAURANT".into()),
            profile_picture_handle: None,
        },
        throughput: config.throughput,
        upgrading_until: None,
        coexistence: None,
        onboarded_at: None,
    };
    world.phones.insert(
        phone_number_id.clone(),
        phone(&phone_number_id, "15550001234", true),
    );
    world.phones.insert(
        new_phone_number_id.clone(),
        phone(&new_phone_number_id, "15550005678", false),
    );
    world.templates = vec![
        Template::approved(
            "1000000000000001",
            &waba_id,
            "hello_world",
            "Hello World! Welcome to the WhatsApp Business Platform.",
        ),
        Template::approved(
            "1000000000000002",
            &waba_id,
            "order_update",
            "Hi {{1}}, your order {{2}} is on its way.",
        ),
    ];
    DemoIds {
        business_id,
        waba_id,
        phone_number_id,
        new_phone_number_id,
        customer_wa_id: "16505551234".into(),
    }
}
