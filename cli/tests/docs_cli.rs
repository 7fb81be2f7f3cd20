//! docs/cli.md's examples, run and compared with the page (trycmd): the page cannot drift
//! from what the CLI prints.

#[test]
fn docs_cli_examples_print_what_the_page_says() {
    trycmd::TestCases::new()
        .register_bin("kgroup", trycmd::cargo::cargo_bin!("kgroup"))
        .case(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/cli.md"));
}
