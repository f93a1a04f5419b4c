import { api, type User } from '../api.js';
import { h } from '../dom.js';

export function loginPage(onLogin: (user: User) => void): HTMLElement {
  const error = h('p', { class: 'error', role: 'alert' });
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const form = h(
    'form',
    {
      class: 'card login',
      'aria-label': 'Sign in',
      onsubmit: (event: Event) => {
        event.preventDefault();
        error.textContent = '';
        api.login(username.value, password.value).then(onLogin, (e: Error) => (error.textContent = e.message));
      },
    },
    h('h1', {}, 'Sign in to the hub'),
    h('label', { for: 'username' }, 'User name'),
    username,
    h('label', { for: 'password' }, 'Password'),
    password,
    h('button', { type: 'submit' }, 'Sign in'),
    error,
  );
  return h('main', { class: 'center' }, form);
}
