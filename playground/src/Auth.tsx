import { useState, type FormEvent } from 'react';
import { useClient } from 'urql';
import { LoginMutation, RegisterMutation } from './operations';
import { fieldErrors, toAppError, type FieldLabels, type FormErrors } from './errors';
import { Alert, Field } from './ui';

const FIELDS: FieldLabels = { username: 'Username', password: 'Password' };

export function AuthScreen({ onSignedIn }: { onSignedIn: (token: string) => void }) {
  const client = useClient();
  const [mode, setMode] = useState<'signin' | 'signup'>('signin');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [errors, setErrors] = useState<FormErrors>({ byField: {} });
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const local: Record<string, string> = {};
    if (mode === 'signup') {
      if (!/^[A-Za-z0-9_.-]{3,32}$/.test(username))
        local.username = 'Use 3–32 letters, digits, dots, dashes or underscores.';
      if (password.length < 8 || password.length > 128) local.password = 'Use 8–128 characters.';
    }
    if (Object.keys(local).length) {
      setErrors({ byField: local });
      return;
    }
    setBusy(true);
    setErrors({ byField: {} });
    const res =
      mode === 'signup'
        ? await client.mutation(RegisterMutation, { username, password }).toPromise()
        : await client.mutation(LoginMutation, { username, password }).toPromise();
    setBusy(false);
    const payload = res.data && ('register' in res.data ? res.data.register : 'login' in res.data ? res.data.login : null);
    if (payload?.token) {
      onSignedIn(payload.token);
      return;
    }
    const fe = fieldErrors(res.error, FIELDS);
    if (mode === 'signin' && !Object.keys(fe.byField).length && toAppError(res.error).code === 'UNAUTHENTICATED')
      fe.general = 'Wrong username or password.';
    setErrors(fe.general || Object.keys(fe.byField).length ? fe : { byField: {}, general: 'Something went wrong.' });
  };

  return (
    <div className="auth-screen">
      <div className="auth-card">
        <div className="brand brand-large">
          <span className="brand-mark">rc</span> roomcast
        </div>
        <p className="muted">Real-time chat rooms.</p>
        <div className="tabs" role="tablist">
          <button type="button" role="tab" aria-selected={mode === 'signin'} className={mode === 'signin' ? 'active' : ''} onClick={() => { setMode('signin'); setErrors({ byField: {} }); }}>
            Sign in
          </button>
          <button type="button" role="tab" aria-selected={mode === 'signup'} className={mode === 'signup' ? 'active' : ''} onClick={() => { setMode('signup'); setErrors({ byField: {} }); }}>
            Sign up
          </button>
        </div>
        <form onSubmit={submit} noValidate aria-label={mode === 'signin' ? 'Sign in' : 'Sign up'}>
          <Field label="Username" htmlFor="auth-username" error={errors.byField.username} hint={mode === 'signup' ? '3–32 characters: letters, digits, . _ -' : undefined}>
            <input id="auth-username" name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} autoFocus />
          </Field>
          <Field label="Password" htmlFor="auth-password" error={errors.byField.password} hint={mode === 'signup' ? 'At least 8 characters' : undefined}>
            <input id="auth-password" name="password" type="password" autoComplete={mode === 'signup' ? 'new-password' : 'current-password'} value={password} onChange={(e) => setPassword(e.target.value)} />
          </Field>
          {errors.general && <Alert>{errors.general}</Alert>}
          <button className="btn btn-primary btn-block" type="submit" disabled={busy}>
            {busy ? 'Please wait…' : mode === 'signin' ? 'Sign in' : 'Create account'}
          </button>
        </form>
        <p className="auth-footer muted">
          Exploring the API? Open <a href="/graphiql">GraphiQL</a>.
        </p>
      </div>
    </div>
  );
}
