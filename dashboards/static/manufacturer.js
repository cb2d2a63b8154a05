// Placeholder until this page lands.
import { say } from "/static/common.js";

say(document.getElementById("alert"), "This page is being built.", "info");
