//! The browser the web-page tests rely on: it starts headless and runs a
//! page's scripts before the DOM is read. If this fails, every page test
//! would be judging an unrendered page.

mod support;

#[test]
fn chromium_runs_a_pages_scripts_before_the_dom_is_read() {
    let dir = std::env::temp_dir().join(format!("chukei-browser-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("page.html");
    std::fs::write(
        &page,
        "<html><body><p id=v>not run</p>\
         <script>document.getElementById('v').textContent = 'rendered by script';</script>\
         </body></html>",
    )
    .unwrap();
    let dom = support::chromium::rendered_dom(&format!("file://{}", page.display()), 2000);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(dom.contains("rendered by script"), "DOM was: {dom}");
    assert!(!dom.contains("not run"));
}
