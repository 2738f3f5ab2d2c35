//! A local emulator of Meta's Graph API, webhook delivery and Embedded Signup (see the sandbox issue).
