"""What each problem means and what its caller should do, in Chinese and English.

A problem document's `type` (`/problems/<code>`) leads to a page built from these: one for each
code of `gateway.errors.PROBLEM_TITLES`, the OAuth endpoints' errors included.
"""

from __future__ import annotations

from dataclasses import dataclass

from policies.messages import Text


@dataclass(frozen=True, slots=True)
class Guide:
    """A problem's HTTP status (None: sent to the redirect URI), meaning and remedy."""

    status: int | None
    meaning: Text
    remedy: Text


GUIDES: dict[str, Guide] = {
    "internal-error": Guide(
        500,
        Text(
            "The gateway failed in a way the caller cannot fix.",
            "网关内部出错，调用方无法自行修复。",
        ),
        Text(
            "Retry later; if it persists, contact the bank quoting the request id (`instance`).",
            "请稍后重试；如果持续出现，请联系银行并提供请求编号（instance）。",
        ),
    ),
    "invalid-request": Guide(
        400,
        Text(
            "The request is malformed: a bad cursor, a body that is not a JSON object, or a "
            "parameter the endpoint cannot read.",
            "请求格式有误：例如游标无效、请求体不是 JSON 对象，或参数无法识别。",
        ),
        Text(
            "Read `detail` and `errors`, correct the request and send it again.",
            "请阅读 detail 和 errors，修正请求后重新发送。",
        ),
    ),
    "idempotency-key-required": Guide(
        400,
        Text(
            "This operation moves money or creates a financial resource and needs an "
            "Idempotency-Key header.",
            "该操作涉及资金或创建金融资源，必须携带 Idempotency-Key 请求头。",
        ),
        Text(
            "Send a unique key of 1 to 64 letters, digits, '-' or '_' per operation, and the "
            "same key when you retry it.",
            "每个操作使用一个唯一的键（1 至 64 个字母、数字、“-”或“_”），重试时使用相同的键。",
        ),
    ),
    "invalid-token": Guide(
        401,
        Text(
            "The access token is missing, malformed, expired or revoked, or its DPoP proof "
            "does not match.",
            "访问令牌缺失、格式错误、已过期或已撤销，或其 DPoP 证明不匹配。",
        ),
        Text(
            "Get a new token at /oauth/token and send it in the Authorization header, with a "
            "fresh DPoP proof when the token is DPoP-bound; the WWW-Authenticate header says "
            "what was wrong.",
            "请在 /oauth/token 获取新令牌并放在 Authorization 请求头中发送；"
            "令牌绑定 DPoP 时须同时附上新的 DPoP 证明。WWW-Authenticate 响应头说明了具体原因。",
        ),
    ),
    "insufficient-scope": Guide(
        403,
        Text(
            "The access token does not carry the scope this operation needs.",
            "访问令牌不包含该操作所需的授权范围。",
        ),
        Text(
            "Request a token with the scope listed for the operation in the API reference; "
            "your client must be registered for that scope.",
            "请按接口文档申请包含所需范围的令牌；您的客户端须已登记该范围。",
        ),
    ),
    "consent-insufficient": Guide(
        403,
        Text(
            "The customer's consent does not grant the permission this operation needs.",
            "客户的授权不包含该操作所需的权限。",
        ),
        Text(
            "Ask the customer for a new consent that includes the permission, then use the "
            "token issued for it.",
            "请让客户重新授权并包含所需权限，然后使用为新授权签发的令牌。",
        ),
    ),
    "not-found": Guide(
        404,
        Text(
            "Nothing is there for you: the path is unknown, or the resource does not exist, "
            "belongs to another partner or is not covered by the consent.",
            "没有可供您访问的内容：路径不存在，或资源不存在、属于其他合作方、不在授权范围内。",
        ),
        Text(
            "Check the path and the id against what the API returned to you.",
            "请对照接口返回给您的内容核对路径和编号。",
        ),
    ),
    "method-not-allowed": Guide(
        405,
        Text(
            "The path exists but does not serve this HTTP method.",
            "该路径存在，但不支持此 HTTP 方法。",
        ),
        Text(
            "Use one of the methods listed in the Allow response header.",
            "请使用 Allow 响应头列出的方法之一。",
        ),
    ),
    "not-acceptable": Guide(
        406,
        Text(
            "The gateway cannot answer in any of the formats the Accept header asks for.",
            "网关无法以 Accept 请求头要求的任何格式作答。",
        ),
        Text(
            "Accept application/json (or the format the operation documents).",
            "请接受 application/json（或接口文档中该操作支持的格式）。",
        ),
    ),
    "idempotency-key-in-flight": Guide(
        409,
        Text(
            "A request with the same Idempotency-Key is still being processed.",
            "使用相同幂等键的请求仍在处理中。",
        ),
        Text(
            "Wait a moment and retry with the same key and body: you will get the first "
            "request's answer.",
            "请稍候再用相同的幂等键和请求体重试，届时将得到第一次请求的结果。",
        ),
    ),
    "bill-not-open": Guide(
        409,
        Text(
            "The bill is no longer open: it was paid, cancelled or expired, and cannot be paid "
            "or cancelled now.",
            "该账单已不在待缴状态（已缴清、已撤销或已逾期），无法再缴费或撤销。",
        ),
        Text(
            "Read the bill (GET /v1/collections/bills/{bill_id}) for its status; to collect "
            "again, issue a new bill.",
            "请查询账单（GET /v1/collections/bills/{bill_id}）了解其状态；"
            "如需再次收款，请开立新账单。",
        ),
    ),
    "bill-payment-pending": Guide(
        409,
        Text(
            "A payment of the bill is being processed: until it settles or fails, the bill can "
            "be neither paid again nor cancelled.",
            "该账单有一笔缴费正在处理：在其完成或失败之前，账单既不能再次缴费，也不能撤销。",
        ),
        Text(
            "Wait for the bill.paid event, or read the bill again later: it becomes Paid, or "
            "payable again if the payment fails.",
            "请等待 bill.paid 事件，或稍后再次查询账单：缴费成功则变为 Paid，失败则可重新缴费。",
        ),
    ),
    "payload-too-large": Guide(
        413,
        Text("The request body is over 64 KiB.", "请求体超过 64 KiB。"),
        Text("Send a smaller body.", "请缩小请求体后重新发送。"),
    ),
    "unsupported-media-type": Guide(
        415,
        Text(
            "The body is in a format this endpoint does not read.",
            "请求体的格式不是该接口能读取的格式。",
        ),
        Text(
            "Send JSON with Content-Type: application/json (the OAuth endpoints take "
            "application/x-www-form-urlencoded).",
            "请以 Content-Type: application/json 发送 JSON（OAuth 接口使用 "
            "application/x-www-form-urlencoded）。",
        ),
    ),
    "insufficient-funds": Guide(
        422,
        Text(
            "The debtor account's available balance does not cover the amount.",
            "付款账户的可用余额不足以支付该金额。",
        ),
        Text(
            "Ask the customer to choose another account or a smaller amount.",
            "请让客户选择其他账户或较小的金额。",
        ),
    ),
    "account-frozen": Guide(
        422,
        Text("The account is frozen and cannot move funds.", "账户已冻结，不能进行资金操作。"),
        Text(
            "The customer must contact the bank; meanwhile use another account.",
            "客户须联系银行处理；在此期间请使用其他账户。",
        ),
    ),
    "unsuitable-product": Guide(
        422,
        Text(
            "The product's risk level is above the customer's risk tolerance (a customer of "
            "tolerance Cn may subscribe products up to Rn).",
            "产品的风险等级高于客户的风险承受能力"
            "（承受能力为 Cn 的客户只能认购 Rn 及以下的产品）。",
        ),
        Text(
            "Offer a product of a lower risk level, or let the customer renew the risk "
            "assessment with the bank.",
            "请提供风险等级较低的产品，或请客户到银行重新进行风险评估。",
        ),
    ),
    "risk-limit-exceeded": Guide(
        422,
        Text(
            "The amount would exceed a daily limit of the consent or of your partner tier.",
            "该金额将超出授权或合作方等级的每日限额。",
        ),
        Text(
            "Use a smaller amount, or wait until the limit resets the next day.",
            "请减少金额，或等到次日限额重置后再试。",
        ),
    ),
    "idempotency-key-reused": Guide(
        422,
        Text(
            "The Idempotency-Key was already used with a different body.",
            "该幂等键已用于内容不同的请求。",
        ),
        Text(
            "Use a new key for a new operation; retry an operation only with its original body.",
            "新操作请使用新的幂等键；重试时请使用原请求体。",
        ),
    ),
    "validation-failed": Guide(
        422,
        Text("Some fields are invalid.", "部分字段无效。"),
        Text(
            "Each entry of `errors` names a field (its `path`) and what it must be: correct "
            "them and send the request again.",
            "errors 中的每一项指明一个字段（path）及其要求：请逐项修正后重新发送。",
        ),
    ),
    "rate-limited": Guide(
        429,
        Text("Too many requests in a short time.", "短时间内请求过多。"),
        Text(
            "Wait the number of seconds in Retry-After before the next request, and spread "
            "requests out.",
            "请等待 Retry-After 指定的秒数后再发送请求，并分散请求时间。",
        ),
    ),
    "capability-not-supported": Guide(
        501,
        Text(
            "This bank's core system does not offer the capability.",
            "本行核心系统不提供该能力。",
        ),
        Text(
            "GET /v1/capabilities lists what this bank offers; do not retry.",
            "GET /v1/capabilities 列出了本行提供的能力；请勿重试。",
        ),
    ),
    "core-unavailable": Guide(
        503,
        Text(
            "The core banking system is temporarily unavailable.",
            "核心银行系统暂时不可用。",
        ),
        Text(
            "Retry after the seconds in Retry-After, with the same Idempotency-Key for "
            "operations that move money.",
            "请在 Retry-After 指定的秒数后重试；涉及资金的操作请使用相同的幂等键。",
        ),
    ),
    "core-timeout": Guide(
        504,
        Text(
            "The core banking system did not answer in time; the outcome of the operation is "
            "unknown.",
            "核心银行系统未能及时响应，操作结果未知。",
        ),
        Text(
            "Read the resource to learn the outcome, or retry with the same Idempotency-Key: "
            "the operation is never done twice.",
            "请查询该资源以确认结果，或使用相同的幂等键重试：同一操作不会被执行两次。",
        ),
    ),
    "payment-rejected": Guide(
        422,
        Text(
            "The bank refused the payment for a reason it did not name; nothing was debited.",
            "银行拒绝了此付款且未说明原因，未发生扣款。",
        ),
        Text(
            "Read the payment (payment_id in the problem) for its status; ask the customer to "
            "contact the bank before trying again with a new consent.",
            "请根据问题中的 payment_id 查询付款状态；请客户联系银行后，再以新的授权重试。",
        ),
    ),
    "payment-not-executed": Guide(
        422,
        Text(
            "The core did not answer when the payment was sent and, looked up later, had not "
            "executed it; nothing was debited and the consent is usable again.",
            "付款发送时核心系统未响应，事后查询确认未执行；未发生扣款，授权可再次使用。",
        ),
        Text(
            "Pay again with a new Idempotency-Key under the same consent.",
            "请在同一授权下使用新的幂等键重新付款。",
        ),
    ),
    "debtor-account-not-found": Guide(
        422,
        Text(
            "The account the customer chose to pay from no longer exists at the bank.",
            "客户选择的付款账户在银行已不存在。",
        ),
        Text(
            "Ask the customer for a new payment consent and let them choose another account.",
            "请重新请求客户的付款授权，由客户选择其他账户。",
        ),
    ),
    # Shown to customers as pages at /oauth/authorize (and logged under these codes).
    "authorization-request-invalid": Guide(
        400,
        Text(
            "The customer opened an authorization link that is incomplete, unknown or was "
            "not issued by the bank.",
            "客户打开的授权链接不完整、无法识别，或并非由本行签发。",
        ),
        Text(
            "Send the customer to /oauth/authorize with your client_id and the request_uri "
            "that /oauth/par just returned.",
            "请使用您的 client_id 和 /oauth/par 刚返回的 request_uri，"
            "引导客户访问 /oauth/authorize。",
        ),
    ),
    "authorization-session-invalid": Guide(
        400,
        Text(
            "A step of the authorize pages was submitted with a page the bank did not issue, "
            "or one that is no longer valid.",
            "授权页面的某一步提交了并非本行签发或已失效的页面。",
        ),
        Text(
            "Start a new authorization: push a new request to /oauth/par.",
            "请重新发起授权：向 /oauth/par 推送新的授权请求。",
        ),
    ),
    "authorization-request-expired": Guide(
        410,
        Text(
            "The pushed authorization request expired before the customer finished (it lives "
            "for expires_in seconds, at most 90).",
            "客户完成授权前，推送的授权请求已过期（有效期为 expires_in 秒，最长 90 秒）。",
        ),
        Text(
            "Push a new request to /oauth/par and send the customer to it straight away; your "
            "redirect URI receives error=invalid_request_uri.",
            "请向 /oauth/par 推送新的请求并立即引导客户访问；您的回调地址会收到 "
            "error=invalid_request_uri。",
        ),
    ),
    "authorization-request-used": Guide(
        410,
        Text(
            "The authorization was already completed or declined; a request_uri is used once.",
            "该授权已完成或已被拒绝；request_uri 只能使用一次。",
        ),
        Text(
            "Use the code your redirect URI received, or push a new request for a new consent.",
            "请使用回调地址收到的授权码，或为新的授权同意推送新的请求。",
        ),
    ),
    "authorization-locked": Guide(
        429,
        Text(
            "Too many wrong passwords or one-time codes were entered for this authorization "
            "request, so the bank locked it.",
            "该授权请求中输错密码或动态验证码的次数过多，本行已将其锁定。",
        ),
        Text(
            "Your redirect URI receives error=access_denied. Let the customer start again "
            "with a new request; do not retry automatically.",
            "您的回调地址会收到 error=access_denied。请让客户使用新的请求重新开始，不要自动重试。",
        ),
    ),
    "customer-locked": Guide(
        429,
        Text(
            "Too many wrong passwords or one-time codes were entered for this customer, at any "
            "partner; their login is locked for a while.",
            "该客户（在任一合作方处）输错密码或动态验证码的次数过多，登录已被暂时锁定。",
        ),
        Text(
            "Ask the customer to try again after the time in Retry-After, or to contact the bank.",
            "请客户在 Retry-After 指定的时间后重试，或联系本行。",
        ),
    ),
    "client-inactive": Guide(
        403,
        Text(
            "The partner or its client is suspended or revoked, so it cannot ask customers for "
            "consent.",
            "合作方或其客户端已被暂停或吊销，无法请求客户授权。",
        ),
        Text(
            "Contact the bank about your partner account.",
            "请联系本行处理您的合作方账户。",
        ),
    ),
    "customer-login-unavailable": Guide(
        503,
        Text(
            "The bank cannot log customers in at the moment (no customer-authentication "
            "provider is available).",
            "本行当前无法进行客户登录（没有可用的客户身份认证服务）。",
        ),
        Text(
            "Try again later; partner-level APIs (client credentials) keep working.",
            "请稍后再试；合作方级别的接口（客户端凭证）不受影响。",
        ),
    ),
    "consent-unavailable": Guide(
        410,
        Text(
            "The consent behind the authorization request was revoked, expired or changed "
            "before the customer approved it.",
            "在客户批准之前，授权请求所对应的授权同意已被撤销、已过期或已变更。",
        ),
        Text(
            "Create a new consent, push a new request and send the customer to it.",
            "请创建新的授权同意，推送新的请求并引导客户访问。",
        ),
    ),
    # Answered by the HTTP server before a request reaches the gateway.
    "request-timeout": Guide(
        408,
        Text(
            "The request line and header fields did not arrive in time.",
            "请求行和请求头未能在规定时间内送达。",
        ),
        Text(
            "Send the whole request head promptly (within OBGW_HEADER_TIMEOUT, 10 s by "
            "default); check for a stalled proxy or connection.",
            "请及时发送完整的请求头（默认 10 秒内，见 OBGW_HEADER_TIMEOUT）；"
            "检查代理或连接是否阻塞。",
        ),
    ),
    "header-fields-too-large": Guide(
        431,
        Text(
            "The request line and header fields are larger than the server accepts (32 KiB "
            "and 100 fields by default).",
            "请求行和请求头超过服务器接受的大小（默认 32 KiB、100 个字段）。",
        ),
        Text(
            "Send fewer or smaller headers: large cookies or duplicated headers are the "
            "usual cause.",
            "请减少或缩小请求头：通常是过大的 Cookie 或重复的请求头导致。",
        ),
    ),
    # The OAuth endpoints' errors (RFC 6749 §5.2 `error`, with `_` as `-`) and the token and
    # consent refusals of the API.
    "invalid-client": Guide(
        401,
        Text(
            "Client authentication failed: unknown client, wrong secret, a bad client "
            "assertion, or a client that is suspended or revoked.",
            "客户端认证失败：客户端不存在、密钥错误、客户端断言无效，或客户端已被暂停或撤销。",
        ),
        Text(
            "Check the client id and the credentials your client is registered with "
            "(private_key_jwt: a fresh assertion whose aud is the issuer).",
            "请核对客户端编号及其登记的凭据（private_key_jwt：使用新的断言，且 aud 为签发方）。",
        ),
    ),
    "invalid-grant": Guide(
        400,
        Text(
            "The authorization code or refresh token is invalid, expired, already used, or "
            "was issued to another client; or the PKCE verifier does not match.",
            "授权码或刷新令牌无效、已过期、已被使用或属于其他客户端，或 PKCE 验证码不匹配。",
        ),
        Text(
            "Start the authorization again (codes are single-use and live 60 seconds), with "
            "the code_verifier of that request.",
            "请重新发起授权（授权码只能使用一次，有效期 60 秒），并使用该次请求的 code_verifier。",
        ),
    ),
    "unauthorized-client": Guide(
        400,
        Text(
            "The client is not allowed to use this grant type or authentication method.",
            "该客户端无权使用此授权类型或认证方式。",
        ),
        Text(
            "Use a grant and an authentication method your client is registered for.",
            "请使用客户端已登记的授权类型和认证方式。",
        ),
    ),
    "unsupported-grant-type": Guide(
        400,
        Text(
            "The token endpoint does not support this grant_type.", "令牌接口不支持该 grant_type。"
        ),
        Text(
            "Use client_credentials, authorization_code or refresh_token.",
            "请使用 client_credentials、authorization_code 或 refresh_token。",
        ),
    ),
    "unsupported-response-type": Guide(
        400,
        Text("Only response_type=code is supported.", "仅支持 response_type=code。"),
        Text("Send response_type=code.", "请发送 response_type=code。"),
    ),
    "unsupported-token-type": Guide(
        400,
        Text(
            "The endpoint cannot revoke or inspect this type of token.",
            "该接口无法撤销或查询此类令牌。",
        ),
        Text(
            "Send an access token or a refresh token issued by this gateway.",
            "请发送本网关签发的访问令牌或刷新令牌。",
        ),
    ),
    "invalid-scope": Guide(
        400,
        Text(
            "The requested scope is unknown, not registered for the client, or not allowed "
            "for this grant.",
            "请求的授权范围未知、未为该客户端登记，或不适用于此授权类型。",
        ),
        Text(
            "Ask only for scopes registered for your client: partner-level scopes by client "
            "credentials, customer scopes by the authorization code flow.",
            "请只申请客户端已登记的范围：合作方级范围使用客户端凭据模式，客户数据范围使用授权码模式。",
        ),
    ),
    "invalid-request-uri": Guide(
        400,
        Text(
            "The request_uri is unknown, already used or expired.",
            "request_uri 不存在、已被使用或已过期。",
        ),
        Text(
            "Push the authorization request again at /oauth/par and use the new request_uri "
            "within its expires_in seconds.",
            "请重新向 /oauth/par 推送授权请求，并在 expires_in 秒内使用新的 request_uri。",
        ),
    ),
    "invalid-dpop-proof": Guide(
        400,
        Text(
            "The DPoP proof is missing, malformed, expired, replayed, or does not match the "
            "request's method and URL or the token's key.",
            "DPoP 证明缺失、格式错误、已过期、被重放，或与请求的方法、URL 或令牌绑定的密钥不符。",
        ),
        Text(
            "Send a new proof for each request, signed by the bound key, with this method, "
            "this URL (htu) and a fresh iat and jti.",
            "每个请求都应发送新的证明：由绑定的密钥签名，"
            "包含本次请求的方法、URL（htu）以及新的 iat 和 jti。",
        ),
    ),
    "use-dpop-nonce": Guide(
        400,
        Text(
            "The gateway requires a server nonce in the DPoP proof.",
            "网关要求 DPoP 证明中包含服务端随机数。",
        ),
        Text(
            "Repeat the request with a proof whose nonce claim is the DPoP-Nonce response "
            "header's value.",
            "请以 DPoP-Nonce 响应头中的值作为 nonce 声明生成证明，然后重发请求。",
        ),
    ),
    "access-denied": Guide(
        None,
        Text(
            "The customer did not approve the authorization request.",
            "客户未同意该授权请求。",
        ),
        Text(
            "Tell the customer what they declined; start a new authorization only if they ask.",
            "请告知客户其拒绝了授权；仅在客户要求时重新发起授权。",
        ),
    ),
    "temporarily-unavailable": Guide(
        503,
        Text(
            "The authorization server cannot handle the request for now.",
            "授权服务器暂时无法处理该请求。",
        ),
        Text("Retry in a little while.", "请稍后重试。"),
    ),
    "token-expired": Guide(
        401,
        Text(
            "The access token has expired (they live 5 minutes).",
            "访问令牌已过期（有效期 5 分钟）。",
        ),
        Text(
            "Get a new access token: with the refresh token for customer grants, or by client "
            "credentials again. The customer does not need to be asked.",
            "请获取新的访问令牌：客户授权使用刷新令牌，合作方级别再次使用客户端凭证。无需再次询问客户。",
        ),
    ),
    "token-revoked": Guide(
        401,
        Text(
            "The access token was revoked (by your client, or because its authorization code "
            "was used twice).",
            "访问令牌已被撤销（由您的客户端撤销，或因其授权码被重复使用）。",
        ),
        Text(
            "Get a new token. If you did not revoke it, check that no one else holds your "
            "authorization codes.",
            "请获取新的令牌。如果并非您主动撤销，请检查授权码是否被他人获取。",
        ),
    ),
    "client-revoked": Guide(
        401,
        Text(
            "The client, or the partner it belongs to, was revoked or suspended by the bank.",
            "客户端或其所属合作方已被本行吊销或暂停。",
        ),
        Text("Contact the bank about your partner account.", "请联系本行处理您的合作方账户。"),
    ),
    "consent-revoked": Guide(
        401,
        Text(
            "The customer, or the bank on their behalf, revoked the consent behind this token.",
            "客户（或本行代客户）已撤销该令牌所依据的授权同意。",
        ),
        Text(
            "A new token will not help: create a new consent and ask the customer to authorise it.",
            "获取新令牌无济于事：请创建新的授权同意，并请客户重新授权。",
        ),
    ),
    "consent-expired": Guide(
        401,
        Text("The consent behind this token has expired.", "该令牌所依据的授权同意已过期。"),
        Text(
            "Create a new consent and ask the customer to authorise it.",
            "请创建新的授权同意，并请客户重新授权。",
        ),
    ),
    "consent-consumed": Guide(
        401,
        Text(
            "The payment consent was already used for its one payment.",
            "该付款授权已用于其唯一一笔付款。",
        ),
        Text(
            "Each payment needs its own consent: create a new one for the next payment.",
            "每笔付款都需要单独的授权同意：请为下一笔付款创建新的授权同意。",
        ),
    ),
}
