//! The Explorer as a reader sees it: `chukei explore` serving on a free
//! port, its pages rendered by headless Chromium.

mod support;

use support::explorer::Explorer;

#[test]
fn the_2016_01_irq_order_hang_is_shown_violated_with_its_lasso() {
    let explorer = Explorer::start(&["--spec", "irq-order", "--preset", "2016-01"]);
    let dom = explorer.page("/property/hsm_request_completes");
    // stateright's Explorer said "Liveness holds" here; the fair-lasso
    // checker finds the hang: 4 steps to it, then a 2-step cycle.
    assert!(
        dom.contains(r#"<span id="verdict" class="verdict violated">violated</span>"#),
        "{dom}"
    );
    assert!(dom.contains("checked 18 states (fair-lasso)"), "{dom}");
    assert!(dom.contains("counterexample: 4+2 steps"), "{dom}");
    assert!(
        dom.contains("cycle: the steps after step 4 repeat forever"),
        "{dom}"
    );
    assert!(dom.contains("back to the state of step 4"), "{dom}");
    assert_eq!(
        dom.matches("CPU services the monitor interrupt").count(),
        2,
        "{dom}"
    );
    // Spec, preset and sizes are named; states read as the spec writes them.
    assert!(
        dom.contains("<title>hsm_request_completes — irq-order on 2016-01"),
        "{dom}"
    );
    assert!(dom.contains("sizes: requests=2"), "{dom}");
    assert!(
        dom.contains("hsm=AwaitCompletion(0) pending[hsm=false monitor=false]"),
        "{dom}"
    );

    let overview = explorer.page("/");
    assert!(
        overview.contains(r#"<a href="/property/all_requests_completed">all_requests_completed</a></td><td>sometimes</td><td class="verdict holds">holds</td>"#),
        "{overview}"
    );
}

#[test]
fn a_holding_liveness_property_shows_holds_with_the_states_checked() {
    // The fix of root cause 1, as a patch on 2016-01.
    let explorer = Explorer::start(&[
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--patch",
        "irq=physical",
    ]);
    let dom = explorer.page("/property/hsm_request_completes");
    assert!(
        dom.contains(r#"<span id="verdict" class="verdict holds">holds</span>"#),
        "{dom}"
    );
    assert!(
        dom.contains("holds — checked 14 symmetry classes of states (fair-lasso)"),
        "{dom}"
    );
    assert!(dom.contains("No fair behaviour avoids it forever"), "{dom}");
    assert!(dom.contains("irq-order on 2016-01+irq=physical"), "{dom}");
}

#[test]
fn a_limit_shows_inconclusive_on_the_page() {
    // `explore` takes check's limits: three states decide nothing that holds.
    let explorer = Explorer::start(&[
        "--spec",
        "irq-order",
        "--preset",
        "2016-01",
        "--max-states",
        "3",
    ]);
    let overview = explorer.page("/");
    assert!(
        overview.contains(r#"<td class="verdict inconclusive">inconclusive</td>"#),
        "{overview}"
    );
    assert!(!overview.contains("verdict holds"), "{overview}");
    assert!(overview.contains("stopped by --max-states 3"), "{overview}");
}
