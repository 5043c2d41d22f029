import Hummingbird

/// What the browser loads besides a page: one small stylesheet, shipped inside the binary.
enum Assets {
    static var stylesheet: Response {
        Response(
            status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(string: css)))
    }

    static let css = """
        :root { --ink: #1b1f24; --muted: #57606a; --line: #d0d7de; --accent: #0b5cad; --bad: #b3261e; --ok: #1a7f37; --bg: #fff; --soft: #f6f8fa; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.5 system-ui, "Noto Sans", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink); background: var(--bg); }
        a { color: var(--accent); }
        a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f0b400; outline-offset: 1px; }
        .skip { position: absolute; left: -999px; top: 0; background: var(--ink); color: #fff; padding: .5em 1em; }
        .skip:focus { left: 0; z-index: 10; }
        header.top { display: flex; flex-wrap: wrap; gap: .5em 1.5em; align-items: center; padding: .6em 1.2em; background: var(--soft); border-bottom: 1px solid var(--line); }
        .brand { font-weight: 700; text-decoration: none; color: var(--ink); }
        nav ul { display: flex; gap: 1em; list-style: none; margin: 0; padding: 0; }
        nav a[aria-current] { font-weight: 700; text-decoration: none; color: var(--ink); }
        form.prefs, form.signout { display: flex; gap: .5em; align-items: center; margin: 0; }
        form.signout { margin-left: auto; }
        main { padding: 1em 1.2em 3em; max-width: 110em; }
        main.signin { max-width: 32em; margin: 3em auto; }
        main.signin form { display: grid; gap: .5em; }
        h1 { font-size: 1.5em; margin: .3em 0 .6em; overflow-wrap: anywhere; }
        h2 { font-size: 1.15em; margin: 1.6em 0 .4em; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; vertical-align: top; padding: .35em .6em; border-bottom: 1px solid var(--line); }
        th { background: var(--soft); }
        td { overflow-wrap: anywhere; max-width: 40em; }
        .scroll { overflow-x: auto; }
        bdi { unicode-bidi: isolate; }
        ul.changes, ul.paths, ul.data { margin: 0; padding-left: 1.1em; }
        .via, small, .hint, .empty { color: var(--muted); }
        .problem, .bad, .failure { color: var(--bad); }
        .ok { color: var(--ok); }
        .pending { color: #7d4e00; }
        dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
        dl.facts dt { font-weight: 600; }
        dl.facts dd { margin: 0; overflow-wrap: anywhere; }
        form.filters, form.asof, form.compare, form.search { display: flex; flex-wrap: wrap; gap: .5em 1em; align-items: end; margin: .5em 0 1em; }
        form.search input { min-width: 24em; }
        input, select, button { font: inherit; padding: .25em .45em; }
        button { cursor: pointer; }
        pre.record { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--soft); padding: .8em; border: 1px solid var(--line); }
        code.key { overflow-wrap: anywhere; }
        ol.findings { padding-left: 1.4em; }
        li.finding { margin-bottom: .8em; }
        li.finding p { margin: .1em 0; }
        ol.hashes code { font-size: .85em; }
        """
}
