//! Fuzzes the stanza decoder (and the decoder of encrypted payloads): no input may panic
//! it, its fast paths must agree with the ordinary way, and anything it accepts must
//! encode to XML that decodes to the same value.
#![no_main]

use kgroup::codec::{Limits, Message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let decoded = Message::decode(data);
    // The fast paths for long lists must agree with the ordinary way, error for error.
    assert_eq!(decoded, Message::decode_reference(data, Limits::default()));
    if let Ok(m) = decoded {
        let xml = m.encode();
        match Message::decode(xml.as_bytes()) {
            Ok(again) => assert_eq!(again, m, "re-decoded value differs:\n{xml}"),
            Err(e) => panic!("re-decode failed: {e}\n{xml}"),
        }
    }
    // The same bytes as a decrypted payload (`<xmpp xmlns='jabber:client'>`): what a
    // member's signed envelope may hold is untrusted too.
    if let Ok(m) = Message::decode_payload(data) {
        let xml = m.encode_payload();
        match Message::decode_payload(xml.as_bytes()) {
            Ok(again) => assert_eq!(again, m, "re-decoded payload differs:\n{xml}"),
            Err(e) => panic!("payload re-decode failed: {e}\n{xml}"),
        }
    }
    let tight = Limits {
        max_bytes: 4096,
        max_depth: 4,
        max_items: 3,
    };
    assert_eq!(
        Message::decode_with(data, tight),
        Message::decode_reference(data, tight)
    );
});
