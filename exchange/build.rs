//! Links libpff and libbfio (Debian: libpff-dev, libbfio-dev) found through
//! pkg-config. libbfio is linked directly because kairos hands libpff a custom
//! libbfio handle that reads from a `kairos_parsers::Source`.

fn main() {
    for lib in ["libpff", "libbfio"] {
        if let Err(e) = pkg_config::Config::new().probe(lib) {
            panic!(
                "{lib} not found through pkg-config ({e}); install the Debian packages libpff-dev and libbfio-dev"
            );
        }
    }
}
