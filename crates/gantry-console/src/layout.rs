//! The frame around every page: the head with the embedded assets, a skip link, the main navigation (each entry
//! with a one-key shortcut, see `console.js`), and the page's own content under its title.

use maud::{DOCTYPE, Markup, html};

use crate::assets;

/// A whole page titled `title` around `body`.
pub fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Gantry" }
                link rel="stylesheet" href=(assets::url("console.css"));
                script src=(assets::url("htmx.min.js")) defer {}
                script src=(assets::url("console.js")) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header {
                    nav aria-label="Main" {
                        a.brand href="/executions" { "Gantry" }
                        a href="/executions" data-key="e" { "Executions" }
                        a href="/tasks" data-key="t" { "Tasks" }
                        a href="/workflows" data-key="w" { "Workflows" }
                        a href="/launch-plans" data-key="l" { "Launch plans" }
                        span.spacer {}
                        a href="/login" { "Log in" }
                        form method="post" action="/logout" {
                            button.link type="submit" { "Log out" }
                        }
                    }
                }
                main id="main" tabindex="-1" {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}
