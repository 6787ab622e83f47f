//! Unit tests of the mock matching steps.
use super::*;

fn segs(p: &str) -> Vec<Segment> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "*" {
                Segment::Wildcard
            } else {
                Segment::Text(s.to_string())
            }
        })
        .collect()
}

fn ex(
    order: usize,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    code: u16,
    name: &str,
) -> Example {
    Example {
        order,
        id: Some(format!("id-{order}")),
        name: name.into(),
        item: "item".into(),
        method: method.into(),
        path: segs(path),
        trailing_slash: path.len() > 1 && path.ends_with('/'),
        query: query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        request_headers: vec![],
        request_body: RequestBody::None,
        code,
        headers: vec![],
        body: String::new(),
        body_base64: false,
    }
}

#[test]
fn path_score_steps() {
    assert_eq!(
        path_score(&segs("/users/me"), false, "/users/me")
            .unwrap()
            .0,
        100
    );
    assert_eq!(
        path_score(&segs("/users/me"), false, "/users/me/")
            .unwrap()
            .0,
        95
    );
    assert_eq!(
        path_score(&segs("/users/me"), false, "/Users/ME")
            .unwrap()
            .0,
        90
    );
    assert_eq!(
        path_score(&segs("/users/me"), false, "/Users/ME/")
            .unwrap()
            .0,
        85
    );
    assert_eq!(
        path_score(&segs("/users/*/posts"), false, "/users/ada/posts")
            .unwrap()
            .0,
        80
    );
    assert_eq!(
        path_score(&segs("/users/42"), false, "/users/7").unwrap().0,
        79
    );
    assert_eq!(
        path_score(
            &segs("/users/42"),
            false,
            "/users/1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        )
        .unwrap()
        .0,
        79
    );
    assert_eq!(
        path_score(&segs("/users/42"), false, "/users/7/")
            .unwrap()
            .0,
        75
    );
    assert_eq!(
        path_score(&segs("/orders/list"), false, "/orders/lists")
            .unwrap()
            .0,
        70
    );
    assert!(path_score(&segs("/orders/list"), false, "/users/me").is_none());
    assert!(
        path_score(&segs("/a"), false, "/b").is_none(),
        "one edit of a one-letter path is 100%"
    );
    assert!(path_score(&segs("/users/*"), false, "/users/a/b").is_none());
    assert!(
        path_score(&segs("/users"), false, "/users/7").is_none(),
        "an id does not vanish"
    );
    assert_eq!(
        path_score(&segs("/users/42/posts"), false, "/USERS/7/posts/")
            .unwrap()
            .0,
        75
    );
}

#[test]
fn query_score_rule() {
    let q = |list: &[(&str, &str)]| {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(query_score(&q(&[]), &q(&[])), 10);
    assert_eq!(
        query_score(&q(&[("a", "1"), ("b", "2")]), &q(&[("b", "2"), ("a", "1")])),
        10
    );
    assert_eq!(
        query_score(&q(&[("a", "1"), ("b", "2")]), &q(&[("a", "1")])),
        5
    );
    assert_eq!(
        query_score(&q(&[("a", "1"), ("b", "2")]), &q(&[("a", "9")])),
        -1
    );
    assert_eq!(query_score(&q(&[("a", "1"), ("b", "2")]), &q(&[])), -2);
    assert_eq!(query_score(&q(&[]), &q(&[("x", "1")])), 0);
}

#[test]
fn ties_prefer_200_then_file_order_and_headers_select() {
    let examples = vec![
        ex(0, "GET", "/todos", &[], 304, "not modified"),
        ex(1, "GET", "/todos", &[], 200, "ok"),
        ex(2, "GET", "/todos", &[], 200, "ok again"),
        ex(3, "POST", "/todos", &[], 201, "created"),
        ex(4, "GET", "/todos", &[], 404, "missing"),
    ];
    let h: Vec<(String, String)> = vec![];
    let req = MockRequest::new("GET", "/todos", &h, b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::Example(1)
    );
    let h = vec![("x-mock-response-code".to_string(), "404".to_string())];
    let req = MockRequest::new("GET", "/todos", &h, b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::Example(4)
    );
    let h = vec![(
        "x-mock-response-name".to_string(),
        "not modified".to_string(),
    )];
    let req = MockRequest::new("GET", "/todos", &h, b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::Example(0)
    );
    let req = MockRequest::new("GET", "/elsewhere", &h, b"");
    assert!(
        matches!(
            choose(&examples, &req, &MatchOptions::default()),
            Choice::NotFound(_)
        ),
        "a name does not override the path"
    );
    let h = vec![("x-mock-response-id".to_string(), "id-2".to_string())];
    let req = MockRequest::new("GET", "/todos", &h, b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::Example(2)
    );
    let h: Vec<(String, String)> = vec![];
    let req = MockRequest::new("DELETE", "/todos", &h, b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::NotFound(vec![])
    );
}

#[test]
fn query_and_body_scores_decide() {
    let mut examples = vec![
        ex(0, "GET", "/search", &[("q", "a")], 200, "a"),
        ex(1, "GET", "/search", &[("q", "b")], 200, "b"),
        ex(2, "POST", "/items", &[], 200, "one"),
        ex(3, "POST", "/items", &[], 200, "two"),
    ];
    examples[2].request_body = RequestBody::Raw("{\"n\": 1}".into());
    examples[3].request_body = RequestBody::Raw("{\"n\": 2}".into());
    let h: Vec<(String, String)> = vec![];
    assert_eq!(
        choose(
            &examples,
            &MockRequest::new("GET", "/search?q=b", &h, b""),
            &MatchOptions::default()
        ),
        Choice::Example(1)
    );
    // Without body matching an equal body adds 5: "two" wins.
    assert_eq!(
        choose(
            &examples,
            &MockRequest::new("POST", "/items", &h, b"{\"n\":2}"),
            &MatchOptions::default()
        ),
        Choice::Example(3)
    );
    // With body matching, a different body drops both.
    let h = vec![("x-mock-match-request-body".to_string(), "true".to_string())];
    match choose(
        &examples,
        &MockRequest::new("POST", "/items", &h, b"{\"n\":3}"),
        &MatchOptions::default(),
    ) {
        Choice::NotFound(scored) => assert!(scored.iter().all(|s| s.note == "body differs")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn header_matching_drops_differences() {
    let mut examples = vec![
        ex(0, "GET", "/me", &[], 200, "en"),
        ex(1, "GET", "/me", &[], 200, "fr"),
    ];
    examples[0].request_headers = vec![("accept-language".into(), "en".into())];
    examples[1].request_headers = vec![("accept-language".into(), "fr".into())];
    let h = vec![("accept-language".to_string(), "fr".to_string())];
    let opts = MatchOptions {
        match_headers: vec!["accept-language".into()],
        ..MatchOptions::default()
    };
    assert_eq!(
        choose(&examples, &MockRequest::new("GET", "/me", &h, b""), &opts),
        Choice::Example(1)
    );
    assert_eq!(
        choose(
            &examples,
            &MockRequest::new("GET", "/me", &h, b""),
            &MatchOptions::default()
        ),
        Choice::Example(0)
    );
}

#[test]
fn form_and_multipart_bodies() {
    let h = vec![(
        "content-type".to_string(),
        "multipart/form-data; boundary=XX".to_string(),
    )];
    let body = b"--XX\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--XX\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nbin\r\n--XX--\r\n";
    let req = MockRequest::new("POST", "/", &h, body);
    assert!(body_matches(
        &RequestBody::Multipart(vec![("a".into(), "1".into())]),
        &req
    ));
    assert!(!body_matches(
        &RequestBody::Multipart(vec![("a".into(), "2".into())]),
        &req
    ));
    let req = MockRequest::new("POST", "/", &h, b"b=2&a=1");
    assert!(body_matches(
        &RequestBody::Form(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
        &req
    ));
}
