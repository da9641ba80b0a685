//! The payload codec: postcard, decoded strictly.
//!
//! postcard happily decodes a prefix of its input, so a payload of the
//! wrong shape can decode "successfully" into garbage. Every decode here
//! demands that the whole buffer is consumed: a mismatch is an error, never
//! a silently mis-decoded value.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use serde::Serialize;
use serde::de::DeserializeOwned;

/// Decodes `T` from exactly all of `bytes` (a byte left over is an error).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((v, [])) => Ok(v),
        Ok((_, rest)) => Err(format!(
            "{} bytes left over after decoding `{}`",
            rest.len(),
            std::any::type_name::<T>()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Encodes a value.
pub fn encode<T: Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, String> {
    postcard::to_stdvec(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_takes_exactly_all_bytes() {
        let b = encode(&(1u8, 2u8)).unwrap();
        assert_eq!(decode::<(u8, u8)>(&b).unwrap(), (1, 2));
        assert!(decode::<u8>(&b).is_err(), "one byte left over");
    }
}
