use std::borrow::Cow;

#[tractor::endpoint]
async fn shout(text: Cow<'_, str>) -> String {
    text.to_uppercase()
}

fn main() {}
