// Signing in with the owner account (OAuth2 password form) or creating one.
import { api, el, say } from "/static/common.js";

const SIGN_IN_ERRORS = {
  401: "That email and password do not match an account. Check them, or create an account below.",
};
const SIGN_UP_ERRORS = {
  409: "There is an account with this email already: sign in above instead.",
  422: "Please use a valid email address and a password of at least 10 characters.",
};

function field(label, attrs) {
  return el("label", {}, label, el("input", attrs));
}

/** `done(token)` is called once signed in. */
export function signInView({ alertBox, done }) {
  const fail = (errors) => (e) => say(alertBox, errors[e.status] || e.message, "error");

  async function signInWith(email, password) {
    const token = await api("/auth/token", { method: "POST", form: { username: email, password } });
    done(token.access_token);
  }

  const signInForm = el(
    "form",
    {
      class: "stack card",
      "aria-labelledby": "signin-h",
      onsubmit: (event) => {
        event.preventDefault();
        const data = new FormData(signInForm);
        signInWith(data.get("email"), data.get("password")).catch(fail(SIGN_IN_ERRORS));
      },
    },
    el("h2", { id: "signin-h" }, "Sign in"),
    field("Email", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    el("button", { type: "submit" }, "Sign in"),
  );

  const signUpForm = el(
    "form",
    {
      class: "stack card",
      "aria-labelledby": "signup-h",
      onsubmit: async (event) => {
        event.preventDefault();
        const data = new FormData(signUpForm);
        const email = data.get("email");
        const password = data.get("password");
        try {
          await api("/owners", { method: "POST", body: { email, password } });
        } catch (e) {
          return fail(SIGN_UP_ERRORS)(e);
        }
        await signInWith(email, password).catch(fail(SIGN_IN_ERRORS));
      },
    },
    el("h2", { id: "signup-h" }, "New here? Create an account"),
    field("Your email", { name: "email", type: "email", autocomplete: "email", required: true }),
    field("Choose a password (at least 10 characters)", {
      name: "password", type: "password", autocomplete: "new-password", minlength: 10, required: true,
    }),
    el("button", { type: "submit" }, "Create account"),
  );

  return el(
    "div",
    { class: "signin stack" },
    el("p", {}, "See how your devices are doing, answer our messages and set up a new device."),
    signInForm,
    signUpForm,
  );
}
