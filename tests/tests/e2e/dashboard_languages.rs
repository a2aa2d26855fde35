//! The dashboard's own pages in the reader's language: the login page by `Accept-Language`
//! and by `?lang=` (kept through the form's POST and its redirect), the refusal of a page the
//! role may not see, the review queue and a publication's review for an approver, and the
//! upload form for an agency. The expected texts are written here, not read from the
//! message files.

use sdgx_coordinator::auth::{Role, Tokens};
use sdgx_e2e::{dashboard_session, Running};

/// GETs `url` with the session `cookie` and the `Accept-Language` header, when given: the
/// status and the page.
async fn get(client: &reqwest::Client, url: &str, cookie: Option<&str>, accept_language: Option<&str>) -> (u16, String) {
    let mut req = client.get(url);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    if let Some(l) = accept_language {
        req = req.header("accept-language", l);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_review_and_upload_pages_are_in_the_readers_language() {
    let (agency, agency_entry) = Tokens::create("sms", Role::Agency);
    let (approver, approver_entry) = Tokens::create("nso", Role::Approver);
    let r = Running::start(|c| c.security.tokens = vec![agency_entry, approver_entry]).await;
    r.publish_all().await;
    let base = format!("http://{}", r.http);
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();

    // The login page in French by Accept-Language, with the language links.
    let (status, html) = get(&client, &format!("{base}/dashboard/login"), None, Some("fr-FR,fr;q=0.9,en;q=0.5")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"fr\""), "{html}");
    assert!(html.contains(">Se connecter</button>") && html.contains("Jeton d&#39;accès (organisme, lecteur, approbateur ou administrateur)"), "{html}");
    assert!(html.contains("id=\"languages\"") && html.contains("href=\"/dashboard/login?lang=ru\""), "{html}");
    assert!(html.contains("action=\"/dashboard/login\""), "a language from the header needs no ?lang=: {html}");

    // In Russian by ?lang=, which the form's action keeps...
    let (status, html) = get(&client, &format!("{base}/dashboard/login?lang=ru"), None, Some("fr")).await;
    assert_eq!(status, 200);
    assert!(html.contains("<html lang=\"ru\"") && html.contains(">Войти</button>") && html.contains("Токен доступа"), "{html}");
    assert!(html.contains("action=\"/dashboard/login?lang=ru\""), "{html}");
    // ...so that a refused token is refused in Russian...
    let login = |body: String| client.post(format!("{base}/dashboard/login?lang=ru")).header("content-type", "application/x-www-form-urlencoded").body(body).send();
    let resp = login("token=".into()).await.unwrap();
    assert_eq!(resp.status(), 401);
    let html = resp.text().await.unwrap();
    assert!(html.contains("<html lang=\"ru\"") && html.contains("Введите токен доступа."), "{html}");
    let resp = login("token=sdgx_not-a-token".into()).await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Этот токен недействителен."));
    // ...and a valid one opens the dashboard in Russian.
    let resp = login(format!("token={approver}")).await.unwrap();
    assert_eq!((resp.status().as_u16(), resp.headers()["location"].to_str().unwrap()), (303, "/dashboard?lang=ru"));

    // The review queue in French for an approver, the publications awaiting a decision listed.
    let nso = dashboard_session(&base, &approver).await;
    let (status, html) = get(&client, &format!("{base}/dashboard/review?lang=fr"), Some(&nso), None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<html lang=\"fr\"") && html.contains("<h1>Publications à valider</h1>"), "{html}");
    assert!(html.contains("<h2>En attente de décision (") && html.contains("<h2>Approuvées, pas encore diffusées (0)</h2>"), "{html}");
    assert!(html.contains("<th>Organisme</th>") && html.contains("<th>Intitulé</th>") && html.contains("<th>Avertissements de qualité</th>"), "{html}");
    assert!(!html.contains("Review queue") && !html.contains("Awaiting a decision"), "{html}");
    // One publication's review, in French too.
    let id = html.split("href=\"/dashboard/review/").nth(1).and_then(|s| s.split('?').next()).expect("a publication in the queue").to_owned();
    let (status, html) = get(&client, &format!("{base}/dashboard/review/{id}?lang=fr"), Some(&nso), None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("État : <strong id=\"status\">soumise</strong>.") && html.contains("<h2>Incidence sur les chiffres</h2>"), "{html}");
    assert!(html.contains(">Approuver</button>") && html.contains(">Renvoyer à l&#39;organisme</button>"), "{html}");
    assert!(html.contains(&format!("action=\"/dashboard/review/{id}/approve?lang=fr\"")), "the decision keeps the language: {html}");

    // The upload form in Spanish for an agency; other pages refused in Spanish.
    let sms = dashboard_session(&base, &agency).await;
    let (status, html) = get(&client, &format!("{base}/dashboard/upload?lang=es"), Some(&sms), None).await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("<html lang=\"es\"") && html.contains("<h1>Cargar un conjunto de datos</h1>"), "{html}");
    assert!(html.contains(">Verificar el archivo</button>") && html.contains(">Archivo de datos (CSV o Excel)</label>") && html.contains(">Anual</option>"), "{html}");
    assert!(html.contains("action=\"/dashboard/upload/check?lang=es\"") && html.contains(">Cerrar sesión</button>"), "{html}");
    let (status, html) = get(&client, &format!("{base}/dashboard?lang=es"), Some(&sms), None).await;
    assert_eq!(status, 403);
    assert!(html.contains("<h1>Acceso no permitido</h1>") && html.contains("href=\"/dashboard/upload?lang=es\""), "{html}");
    r.stop().await;
}
