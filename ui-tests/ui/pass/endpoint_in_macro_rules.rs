//! An endpoint declared by a `macro_rules!` with the types passed in: the
//! generated locals must still resolve (hygiene).

macro_rules! square_endpoint {
    ($name:ident, $t:ty, $e:ty) => {
        #[tractor::endpoint]
        async fn $name(x: $t) -> Result<$t, $e> {
            x.checked_mul(x).ok_or_else(|| "overflow".into())
        }
    };
}

square_endpoint!(square_u32, u32, String);

macro_rules! plain_endpoint {
    ($name:ident, $t:ty) => {
        #[tractor::endpoint]
        async fn $name(x: $t) -> $t {
            x
        }
    };
}

plain_endpoint!(identity_u64, u64);

fn main() {
    assert_eq!(square_u32::call(3).name(), "square_u32");
    assert_eq!(identity_u64::call(3).name(), "identity_u64");
}
