//! Unit tests of the mock matching steps.
use super::*;

fn segs(p: &str) -> Vec<Segment> {
    p.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            if s == "*" {
                Segment::Var(String::new())
            } else if let Some(name) = s.strip_prefix(':') {
                Segment::Var(name.to_string())
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
        timing: Default::default(),
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
    let with_body = |b: RequestBody| {
        let mut e = ex(0, "POST", "/", &[], 200, "e");
        e.request_body = b;
        e
    };
    let none = Rules::default();
    assert!(body_matches(
        &with_body(RequestBody::Multipart(vec![("a".into(), "1".into())])),
        &req,
        &none
    ));
    assert!(!body_matches(
        &with_body(RequestBody::Multipart(vec![("a".into(), "2".into())])),
        &req,
        &none
    ));
    let req = MockRequest::new("POST", "/", &h, b"b=2&a=1");
    assert!(body_matches(
        &with_body(RequestBody::Form(vec![
            ("a".into(), "1".into()),
            ("b".into(), "2".into())
        ])),
        &req,
        &none
    ));
}

#[test]
fn json_bodies_compare_by_value_with_ignored_fields_left_out() {
    let mut spec = crate::rules::RuleSpec::default();
    spec.matching.ignore_json = vec!["$.requestId".into()];
    let rules = Rules::compile(&spec).unwrap();
    let mut e = ex(0, "POST", "/", &[], 200, "e");
    e.request_body = RequestBody::Raw("{\"q\": 1, \"requestId\": \"a\"}".into());
    let h = vec![("content-type".to_string(), "application/json".to_string())];
    let req = MockRequest::new("POST", "/", &h, b"{\"requestId\":\"b\",\"q\":1}");
    assert!(body_matches(&e, &req, &rules));
    assert!(!body_matches(&e, &req, &Rules::default()));
    let other = MockRequest::new("POST", "/", &h, b"{\"requestId\":\"b\",\"q\":2}");
    assert!(!body_matches(&e, &other, &rules));
}

#[test]
fn postman_query_values_compare_case_insensitively() {
    let examples = vec![
        ex(0, "GET", "/tests", &[("status", "fail")], 200, "fail"),
        ex(1, "GET", "/tests", &[("status", "PASS")], 200, "pass"),
    ];
    let req = MockRequest::new("GET", "/tests?status=pass", &[], b"");
    assert_eq!(
        choose(&examples, &req, &MatchOptions::default()),
        Choice::Example(1)
    );
}

#[test]
fn postman_match_request_headers_compare_values_case_insensitively() {
    let mut a = ex(0, "GET", "/h", &[], 200, "json");
    a.request_headers = vec![("accept".into(), "Application/JSON".into())];
    let mut b = ex(1, "GET", "/h", &[], 200, "xml");
    b.request_headers = vec![("accept".into(), "application/xml".into())];
    let h = vec![
        ("accept".to_string(), "application/json".to_string()),
        (
            "x-mock-match-request-headers".to_string(),
            "Accept".to_string(),
        ),
    ];
    let req = MockRequest::new("GET", "/h", &h, b"");
    assert_eq!(
        choose(&[a, b], &req, &MatchOptions::default()),
        Choice::Example(0)
    );
}

#[test]
fn postman_response_uid_picks_the_example() {
    let mut e = ex(0, "GET", "/a", &[], 200, "a");
    e.id = Some("1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f".into());
    let other = ex(1, "GET", "/a", &[], 200, "b");
    let h = vec![(
        "x-mock-response-id".to_string(),
        "12345678-1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f".to_string(),
    )];
    let req = MockRequest::new("GET", "/a", &h, b"");
    assert_eq!(
        choose(&[e.clone(), other.clone()], &req, &MatchOptions::default()),
        Choice::Example(0)
    );
    assert!(response_id_matches(
        "12345678-1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
        "1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f"
    ));
    assert!(!response_id_matches(
        "1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e2f",
        "1f0c1d9e-2a4b-4c5d-8e6f-7a8b9c0d1e20"
    ));
    assert!(
        !response_id_matches("12-abc", "13-abc"),
        "owner prefixes only before a whole UUID"
    );
}

#[test]
fn postman_path_variables_are_captured() {
    assert_eq!(
        path_captures(&segs("/users/:userId/posts/*"), "/users/42/posts/7"),
        vec![("userId".to_string(), "42".to_string())]
    );
    assert_eq!(
        path_captures(&segs("/users/:userId"), "/users/a%20b"),
        vec![("userId".to_string(), "a b".to_string())]
    );
    assert!(path_captures(&segs("/users/:userId"), "/users").is_empty());
}

#[test]
fn ignored_query_parameters_do_not_score() {
    let mut spec = crate::rules::RuleSpec::default();
    spec.matching.ignore_query = vec!["t".into()];
    let opts = MatchOptions {
        rules: std::sync::Arc::new(Rules::compile(&spec).unwrap()),
        ..MatchOptions::default()
    };
    let examples = vec![
        ex(0, "GET", "/q", &[("a", "1"), ("t", "1")], 201, "old"),
        ex(1, "GET", "/q", &[("a", "2")], 200, "other"),
    ];
    let req = MockRequest::new("GET", "/q?a=1&t=999", &[], b"");
    assert_eq!(choose(&examples, &req, &opts), Choice::Example(0));
}

#[test]
fn the_index_gives_the_same_answers_as_scoring_everything() {
    let paths = [
        "/users",
        "/users/42",
        "/users/:id",
        "/Users/7/posts",
        "/orders/1",
        "/",
        "/:tenant/items",
        "/42/x",
        "/user",
        "/users/me/",
        "/search",
    ];
    let mut examples = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        examples.push(ex(
            i,
            "GET",
            p,
            &[("q", "1")],
            if i % 3 == 0 { 200 } else { 201 },
            "e",
        ));
        examples.push(ex(100 + i, "POST", p, &[], 200, "p"));
    }
    let index = MockIndex::new(&examples);
    let requests = [
        "/users",
        "/users/",
        "/USERS/42",
        "/users/9?q=1",
        "/usrs",
        "/user/",
        "/acme/items",
        "/42/x",
        "/7/x",
        "/",
        "/search?q=2",
        "/nothing/here",
        "/users/me",
        "/orders/2",
        "/Users/7/posts?q=1",
        "/userz/42",
    ];
    for method in ["GET", "POST", "PUT"] {
        for path in requests {
            let req = MockRequest::new(method, path, &[], b"");
            assert_eq!(
                choose(&examples, &req, &MatchOptions::default()),
                choose_indexed(&examples, &index, &req, &MatchOptions::default()),
                "{method} {path}"
            );
        }
    }
}
