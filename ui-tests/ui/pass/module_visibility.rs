//! `pub` and `pub(crate)` endpoints in a module, called from outside it.

mod api {
    #[tractor::endpoint]
    pub async fn add(a: i64, b: i64) -> i64 {
        a + b
    }

    #[tractor::endpoint]
    pub(crate) async fn neg(a: i64) -> i64 {
        -a
    }

    pub mod nested {
        #[tractor::endpoint]
        pub(super) async fn twice(a: i64) -> i64 {
            a * 2
        }

        #[tractor::endpoint]
        pub(in crate::api) async fn thrice(a: i64) -> i64 {
            a * 3
        }
    }

    #[tractor::endpoint]
    async fn private(a: i64) -> i64 {
        a
    }

    pub fn inner_calls() -> [tractor::Call<nested::twice::Endpoint>; 1] {
        let _ = private::call(1);
        let _ = nested::thrice::call(1);
        [nested::twice::call(1)]
    }
}

fn main() {
    let add: tractor::Call<api::add::Endpoint> = api::add::call(1, 2);
    let neg: tractor::Call<api::neg::Endpoint> = api::neg::call(1);
    assert_eq!(add.module(), format!("{}::api", module_path!()));
    assert_eq!(add.name(), "add");
    assert_eq!(neg.module(), format!("{}::api", module_path!()));
    let [twice] = api::inner_calls();
    assert_eq!(twice.module(), format!("{}::api::nested", module_path!()));
    let _args = api::add::Args { a: 1, b: 2 };
    // The fn stays callable locally.
    let _fut = api::add(1, 2);
}
