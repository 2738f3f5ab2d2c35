use crate::helpers::{assert_graph_error, World};

#[tokio::test]
async fn templates_are_listed_with_cursor_paging_and_filters() {
    let world = World::start().await;
    let waba = world.demo().waba_id.clone();
    let (status, first) = world
        .call("GET", &format!("{waba}/message_templates?limit=1"), None)
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["data"].as_array().unwrap().len(), 1);
    assert_eq!(first["data"][0]["name"], "hello_world");
    assert_eq!(first["data"][0]["status"], "APPROVED");
    assert_eq!(first["data"][0]["components"][0]["type"], "BODY");
    let next = first["paging"]["next"].as_str().expect("a next page");
    assert!(next.contains("/v25.0/"), "{next}");
    let after = first["paging"]["cursors"]["after"].as_str().unwrap();
    let (_, second) = world
        .call(
            "GET",
            &format!("{waba}/message_templates?limit=1&after={after}"),
            None,
        )
        .await;
    assert_eq!(second["data"][0]["name"], "order_update");
    assert!(second["paging"].get("next").is_none(), "the last page");

    let (_, filtered) = world
        .call(
            "GET",
            &format!("{waba}/message_templates?name=order&language=en_US"),
            None,
        )
        .await;
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    let (_, none) = world
        .call(
            "GET",
            &format!("{waba}/message_templates?status=REJECTED"),
            None,
        )
        .await;
    assert!(none["data"].as_array().unwrap().is_empty());
    let bad = world
        .call(
            "GET",
            &format!("{waba}/message_templates?after=nonsense"),
            None,
        )
        .await;
    assert_graph_error(&bad, 400, 100, None);
}
