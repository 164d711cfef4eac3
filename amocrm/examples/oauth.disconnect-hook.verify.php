<?php
// id oauth-клиента интеграции
$clientId = 'xxx';
// секретный ключ oauth-клиента интеграции
$clientSecret = 'xxx';

if (empty($_GET['client_uuid']) || empty($_GET['signature']) || empty($_GET['account_id'])) {
    throw new \HttpInvalidParamException('Wrong hook format');
}

$hookClientId = $_GET['client_uuid'];
$hookSignature = $_GET['signature'];
$hookAccountId = (int) $_GET['account_id'];

if ($clientId !== $hookClientId) {
    throw new \Exception('Invalid hook signature');
}

if (!hash_equals(
    hash_hmac('sha256', sprintf('%s|%s', $clientId, $hookAccountId), $clientSecret),
    $hookSignature
)) {
    throw new \Exception('Invalid hook signature');
}
// проверка подлинности пройденна, можно вызывать вашу логику обработки хука
