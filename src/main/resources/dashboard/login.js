/* Login page: shows a fixed message chosen by ?error=refused|expired|unchecked; never echoes the parameter. */
(function () {
  'use strict';

  const MESSAGES = {
    refused: 'Sign-in refused: check the role name and password.',
    expired: 'Your session ended; sign in again.',
    unchecked: 'Sign-in refused: the database does not check this role\'s password from the dashboard\'s address, ' +
      'so the dashboard will not sign it in (see the user guide, The web dashboard).'
  };

  function showError() {
    const box = document.getElementById('login-error');
    if (!box) return;
    const code = new URLSearchParams(location.search).get('error');
    const message = Object.prototype.hasOwnProperty.call(MESSAGES, code) ? MESSAGES[code] : '';
    box.textContent = message;
  }

  function start() {
    showError();
    const role = document.getElementById('role');
    const password = document.getElementById('password');
    if (role && role.value && password) password.focus();
  }

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', start);
  } else {
    start();
  }
})();
