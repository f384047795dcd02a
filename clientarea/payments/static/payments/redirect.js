// Takes the customer on to the gateway's hosted page: submits the prepared form as soon as the
// page is parsed (a file, not an inline script: the Content-Security-Policy allows only 'self').
// Without JavaScript the "Continue" button does the same.
document.getElementById("gateway-redirect-form").submit();
