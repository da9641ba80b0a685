//! `-> Result<T, std::io::Error>`: a std error keeps its source chain.

#[tractor::endpoint]
async fn read_file(path: std::path::PathBuf) -> Result<Vec<u8>, std::io::Error> {
    std::fs::read(path)
}

fn main() {
    let _bytes: <read_file::Endpoint as tractor::Endpoint>::Output = Vec::new();
    let _ = read_file::call("/etc/hostname".into());
}
