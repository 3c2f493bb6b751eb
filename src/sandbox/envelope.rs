//! The bodies the simulator sends: the vendor's JSON envelope for successes
//! and errors, with the document's Chinese reasons and field order, and the
//! HTML, broken and echoing bodies of the faults (the `huge` body is
//! streamed by the server).
//!
//! Pure: strings in, strings out; the server decides the HTTP status and
//! headers around them.

use serde::Serialize;

use super::data::SimTenure;
use super::route::Route;

/// The document's reason for an `error_code`, or `None` for a code it does
/// not list.
pub fn reason(code: i64) -> Option<&'static str> {
    let reason = match code {
        0 => "成功",
        224801 => "查询无此记录",
        224804 => "参数错误",
        224805 => "网络异常,请重试",
        224808 => "查询失败",
        10001 => "错误的请求KEY",
        10002 => "该KEY无请求权限",
        10003 => "KEY过期",
        10004 => "错误的OPENID",
        10005 => "应用未审核超时,请提交认证",
        10007 => "未知的请求源",
        10008 => "被禁止的IP",
        10009 => "被禁止的KEY",
        10011 => "当前IP请求超过限制",
        10012 => "请求超过次数限制",
        10013 => "测试KEY超过请求限制",
        10014 => {
            "系统内部异常(调用充值类业务时,请务必联系客服或通过订单查询接口检测订单,避免造成损失)"
        }
        10020 => "接口维护",
        10021 => "接口停用",
        _ => return None,
    };
    Some(reason)
}

/// The reason sent for a code the document does not list.
const UNKNOWN_REASON: &str = "未知错误";

/// The envelope in the vendor's field order.
#[derive(Serialize)]
struct Envelope<'a, R: Serialize> {
    reason: &'a str,
    result: Option<R>,
    error_code: i64,
    /// The old-format code that system-level errors still carry (`101`).
    #[serde(skip_serializing_if = "Option::is_none")]
    resultcode: Option<String>,
}

/// `/mobileOnline/query`'s `result`, fields as the document's example.
#[derive(Serialize)]
struct PlainResult<'a> {
    idnum: &'a str,
    name: &'a str,
    mobile: &'a str,
    res: u8,
    code: &'a str,
    desc: &'a str,
    province: &'a str,
    city: &'a str,
    isp: &'a str,
}

/// `/mobileOnline/queryEncry`'s `result`, fields as the document's example.
#[derive(Serialize)]
struct EncryptedResult<'a> {
    code: &'a str,
    desc: &'a str,
    province: &'a str,
    city: &'a str,
    isp: &'a str,
    orderid: &'a str,
}

fn to_json<R: Serialize>(envelope: &Envelope<'_, R>) -> String {
    serde_json::to_string(envelope).expect("an envelope of strings and integers always serialises")
}

/// The billed answer for a number on a route. `queryEncry` says `"成功 "`
/// with the trailing space of the document's example, and carries
/// `orderid` (which the plain route ignores).
pub(crate) fn success(route: Route, number: &str, answer: &SimTenure, orderid: &str) -> String {
    match route {
        Route::Query => to_json(&Envelope {
            reason: "成功",
            result: Some(PlainResult {
                idnum: "",
                name: "",
                mobile: number,
                res: 1,
                code: answer.code,
                desc: answer.desc,
                province: answer.province,
                city: answer.city,
                isp: answer.isp,
            }),
            error_code: 0,
            resultcode: None,
        }),
        Route::QueryEncry => to_json(&Envelope {
            reason: "成功 ",
            result: Some(EncryptedResult {
                code: answer.code,
                desc: answer.desc,
                province: answer.province,
                city: answer.city,
                isp: answer.isp,
                orderid,
            }),
            error_code: 0,
            resultcode: None,
        }),
    }
}

/// An error answer: `{"reason":…,"result":null,"error_code":N}`, plus the
/// old `resultcode` (`101` for `10001`) on the document's system-level codes.
pub(crate) fn error(code: i64) -> String {
    let system = (10001..=10099).contains(&code) && reason(code).is_some();
    to_json(&Envelope::<()> {
        reason: reason(code).unwrap_or(UNKNOWN_REASON),
        result: None,
        error_code: code,
        resultcode: system.then(|| format!("1{:02}", code - 10000)),
    })
}

/// The answer of a misconfigured proxy: `224808` whose `reason` is the
/// request it received, secrets and all.
pub(crate) fn echo(request: &str) -> String {
    to_json(&Envelope::<()> {
        reason: request,
        result: None,
        error_code: 224808,
        resultcode: None,
    })
}

/// A body that is not the JSON envelope, one of three kinds by `pick`: an
/// HTML page from a gateway, the normal body cut in half, or nothing.
/// Returns the content type it claims and the body.
pub(crate) fn garbage(normal_body: &str, pick: u8) -> (&'static str, String) {
    match pick % 3 {
        0 => ("text/html; charset=utf-8", GATEWAY_PAGE.to_owned()),
        1 => {
            let mut cut = normal_body.len() / 2;
            while !normal_body.is_char_boundary(cut) {
                cut -= 1;
            }
            (
                "application/json;charset=utf-8",
                normal_body[..cut].to_owned(),
            )
        }
        _ => ("application/json;charset=utf-8", String::new()),
    }
}

/// What a gateway in front of the API might send with HTTP 200.
const GATEWAY_PAGE: &str = "<!DOCTYPE html>\r\n<html><head><meta charset=\"utf-8\">\
<title>提示</title></head>\r\n<body><h1>服务繁忙</h1><p>请稍后再试。</p></body></html>\r\n";

/// An nginx-style error page for an HTTP error status.
pub(crate) fn http_error_page(status: u16, phrase: &str) -> String {
    format!(
        "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n\
         <center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n\
         </body>\r\n</html>\r\n"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::answer_for;
    use serde_json::{Value, json};

    fn parsed(body: &str) -> Value {
        serde_json::from_str(body).expect("the envelope is JSON")
    }

    const ORDERID: &str = "JH248118112011355227447293";

    #[test]
    fn success_bodies_mimic_the_document() {
        let answer = answer_for("13800138000").expect("13800138000 has a record");
        let plain = success(Route::Query, "13800138000", &answer, ORDERID);
        assert!(plain.starts_with(r#"{"reason":"成功","result":{"idnum":"","name":"","mobile":"13800138000","res":1,"code":"#), "{plain}");
        assert!(plain.ends_with(r#""},"error_code":0}"#), "{plain}");
        assert!(!plain.contains("orderid"), "{plain}");
        assert_eq!(parsed(&plain)["result"]["isp"], answer.isp);
        let encrypted = parsed(&success(Route::QueryEncry, "13800138000", &answer, ORDERID));
        assert_eq!(encrypted["reason"], "成功 ");
        assert_eq!(encrypted["result"]["orderid"], ORDERID);
        assert_eq!(encrypted["result"]["code"], answer.code);
        assert_eq!(
            encrypted["result"].get("mobile"),
            None,
            "queryEncry does not echo the number"
        );
    }

    #[test]
    fn error_bodies_carry_the_document_reasons() {
        assert_eq!(
            error(10001),
            r#"{"reason":"错误的请求KEY","result":null,"error_code":10001,"resultcode":"101"}"#
        );
        assert_eq!(parsed(&error(10012))["resultcode"], "112");
        assert_eq!(
            error(224805),
            r#"{"reason":"网络异常,请重试","result":null,"error_code":224805}"#
        );
        assert_eq!(
            parsed(&error(987654)),
            json!({"reason": "未知错误", "result": null, "error_code": 987654})
        );
    }

    #[test]
    fn echo_repeats_the_request_verbatim() {
        let request = "key=sandbox-key&mobile=13800138000&x=\"quoted\"";
        assert_eq!(
            parsed(&echo(request)),
            json!({"reason": request, "result": null, "error_code": 224808})
        );
    }

    #[test]
    fn garbage_is_never_json() {
        let answer = answer_for("13800138000").expect("13800138000 has a record");
        let normal_body = success(Route::Query, "13800138000", &answer, ORDERID);
        for pick in 0..3 {
            let (_, body) = garbage(&normal_body, pick);
            assert!(serde_json::from_str::<Value>(&body).is_err(), "{body:?}");
        }
    }
}
