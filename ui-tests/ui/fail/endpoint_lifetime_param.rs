use std::borrow::Cow;

#[tractor::endpoint]
async fn shout<'a>(text: Cow<'a, str>) -> String {
    text.to_uppercase()
}

fn main() {}
